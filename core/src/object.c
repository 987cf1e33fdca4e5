/* Component instances (the common object header) and the host table. */
#include <stdlib.h>
#include <string.h>

#include "npde/npde_backend.h"
#include "npde/npde_log.h"
#include "registry_impl.h"

void *npde_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }
void npde_free(void *ptr) { free(ptr); }

void *npde_object_state(const void *handle) {
  const npde_object *obj = handle;
  if (!obj || obj->magic != NPDE_MAGIC_OBJECT) return NULL;
  return obj->state;
}

npde_status npde__object_init(npde_object *obj, const npde_component_info *info, const npde_config *node,
                              npde_backend *be) {
  const registered_component *rc = (const registered_component *)info;
  const npde_ops_common *ops = rc->ops;
  obj->magic = NPDE_MAGIC_OBJECT;
  obj->kind = info->desc->kind;
  obj->type_name = info->desc->name;
  obj->impl = rc;
  obj->state = calloc(1, info->desc->state_size ? info->desc->state_size : 1);
  if (!obj->state) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory creating %s '%s'", npde_kind_name(obj->kind),
                                     obj->type_name);
  npde_status st = ops->create(obj, node, be);
  if (st < 0) {
    ops->destroy(obj); /* destroy accepts a partly built state */
    free(obj->state);
    obj->state = NULL;
    obj->magic = NPDE_MAGIC_FREED;
    return st;
  }
  return NPDE_OK;
}

void npde__object_fini(npde_object *obj) {
  if (!obj || obj->magic != NPDE_MAGIC_OBJECT) return;
  const npde_ops_common *ops = obj->impl->ops;
  ops->destroy(obj);
  free(obj->state);
  obj->state = NULL;
  obj->magic = NPDE_MAGIC_FREED;
}

npde_status npde_object_create(const npde_component_info *info, const npde_config *node, npde_backend *be,
                               npde_object **out) {
  if (!info || !out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_object_create: NULL argument");
  *out = NULL;
  npde_object *obj = calloc(1, sizeof *obj);
  if (!obj) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  npde_status st = npde__object_init(obj, info, node, be);
  if (st < 0) { free(obj); return st; }
  *out = obj;
  return NPDE_OK;
}

void npde_object_destroy(npde_object **objp) {
  if (!objp || !*objp) return;
  npde__object_fini(*objp);
  free(*objp);
  *objp = NULL;
}

const npde_component_info *npde_object_component(const npde_object *obj) {
  return obj && obj->magic == NPDE_MAGIC_OBJECT ? &obj->impl->info : NULL;
}

static const npde_host_api host_api = {
    .struct_size = sizeof(npde_host_api),
    .abi_major = NPDE_ABI_MAJOR,
    .abi_minor = NPDE_ABI_MINOR,
#define NPDE__HOST_INIT(ret, name, args) .name = npde_##name,
    NPDE_HOST_API_LIST(NPDE__HOST_INIT)
#undef NPDE__HOST_INIT
};

const npde_host_api *npde_host_api_get(void) { return &host_api; }
