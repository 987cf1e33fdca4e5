/* Component instances (the common object header) and the host table. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npde/npde_backend.h"
#include "npde/npde_comm.h"
#include "npde/npde_log.h"
#include "npde/npde_solvers.h"
#include "registry_impl.h"

void *npde_alloc(size_t bytes) { return malloc(bytes ? bytes : 1); }
void npde_free(void *ptr) { free(ptr); }

void *npde_object_state(const void *handle) {
  const npde_object *obj = handle;
  if (!obj || obj->magic != NPDE_MAGIC_OBJECT) return NULL;
  return obj->state;
}

static _Thread_local npde__op current_op;

npde__op npde__op_enter(const npde_object *obj, const char *name) {
  const npde__op previous = current_op;
  current_op = (npde__op){obj, name};
  return previous;
}

void npde__op_leave(npde__op previous) { current_op = previous; }

static void put(int fd, const char *text) {
  ssize_t ignored = write(fd, text, strlen(text));
  (void)ignored;
}

void npde_write_current_operation(int fd) {
  const npde_object *obj = current_op.obj;
  if (!obj || !obj->impl) return;
  put(fd, "npde: it happened in ");
  put(fd, npde_kind_name(obj->kind));
  put(fd, " '");
  put(fd, obj->type_name ? obj->type_name : "?");
  put(fd, "' from ");
  put(fd, obj->impl->info.file ? obj->impl->info.file : "?");
  put(fd, ", in ");
  put(fd, current_op.name ? current_op.name : "?");
  put(fd, "\n");
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
  npde_clear_error(); /* so that a create failing without a word can be told from one that explains itself */
  npde_status st;
  NPDE__TRACKED(st, obj, "create", ops->create(obj, node, be));
  if (st < 0 && !npde_last_error()[0])
    st = NPDE_ERROR(st, "%s '%s' (plugin %s): create failed (%s) without saying why", npde_kind_name(obj->kind),
                    obj->type_name, info->file ? info->file : "?", npde_status_str(st));
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

npde_status npde__object_create_kind(const npde_registry *reg, npde_kind kind, const char *name,
                                     const npde_config *node, npde_backend *be, npde_object **out) {
  return npde__object_create_sized(reg, kind, name, node, be, sizeof(npde_object), out);
}

npde_status npde__object_create_sized(const npde_registry *reg, npde_kind kind, const char *name,
                                      const npde_config *node, npde_backend *be, size_t size, npde_object **out) {
  if (!reg || !out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "creating a %s: NULL argument", npde_kind_name(kind));
  *out = NULL;
  if (!name && node) name = npde_config_scalar(npde_config_get(node, "type"));
  if (!name) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "creating a %s: no type name", npde_kind_name(kind));
  const npde_component_info *info = npde_registry_find(reg, kind, name);
  if (!info) {
    char names[1024];
    return NPDE_ERROR(NPDE_ERR_NOT_FOUND, "no %s '%s'; loaded: %s", npde_kind_name(kind), name,
                      npde_registry_names(reg, kind, names, sizeof names));
  }
  npde_config *empty = NULL, *resolved = NULL;
  if (!node) {
    NPDE_TRY(npde_config_load_string("{}", "<defaults>", &empty));
    node = empty;
  }
  npde_status st = npde_params_validate(info->desc->params, name, node, NULL, &resolved);
  npde_config_destroy(&empty);
  npde_object *obj = NULL;
  if (st == NPDE_OK) {
    obj = calloc(1, size);
    if (!obj) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  }
  if (st == NPDE_OK) st = npde__object_init(obj, info, resolved, be);
  npde_config_destroy(&resolved);
  if (st < 0) { free(obj); return st; }
  *out = obj;
  return NPDE_OK;
}

npde_status npde__object_check(const void *handle, npde_kind kind, const char *call) {
  const npde_object *obj = handle;
  if (!obj || obj->magic != NPDE_MAGIC_OBJECT || obj->kind != kind)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: not a live %s handle", call, npde_kind_name(kind));
  return NPDE_OK;
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
