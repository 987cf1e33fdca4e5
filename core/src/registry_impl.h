/* Private: registry, loaded plugins, object header. */
#ifndef NPDE_REGISTRY_IMPL_H
#define NPDE_REGISTRY_IMPL_H

#include "npde/npde_registry.h"

#define NPDE_MAGIC_OBJECT 0x6e706465u /* "npde" */
#define NPDE_MAGIC_FREED 0xdeadf00du

typedef struct loaded_plugin {
  void *handle; /* dlopen handle */
  char *file;
  const npde_plugin_desc *desc;
} loaded_plugin;

typedef struct registered_component {
  npde_component_info info;
  /* the component's ops table copied into a zero-filled table of the core's
   * size for its kind, so slots a plugin did not know about read as NULL */
  void *ops;
} registered_component;

struct npde_registry {
  loaded_plugin *plugins;
  size_t n_plugins, cap_plugins;
  registered_component *components;
  size_t n_components, cap_components;
};

/* The common header of every component instance. */
struct npde_object {
  uint32_t magic;
  npde_kind kind;
  const char *type_name;
  const registered_component *impl;
  void *state;
};

/* The component call in progress on this thread (npde_write_current_operation): enter returns what it replaces,
 * for leave to put back (calls nest: an integrator calls the rhs that calls the PDE). */
typedef struct npde__op {
  const npde_object *obj;
  const char *name;
} npde__op;
npde__op npde__op_enter(const npde_object *obj, const char *name);
void npde__op_leave(npde__op previous);
/* st = call, with (obj, name) as the call in progress meanwhile */
#define NPDE__TRACKED(st, obj, name, call)                                 \
  do {                                                                     \
    const npde__op previous_ = npde__op_enter((const npde_object *)(obj), name); \
    st = (call);                                                           \
    npde__op_leave(previous_);                                             \
  } while (0)

/* Size of the core's ops table for a kind. */
size_t npde__ops_size(npde_kind kind);
/* The normalised ops table of the component behind info. */
const void *npde__component_ops(const npde_component_info *info);
/* Run create for an object whose header the caller embedded in a larger struct. */
npde_status npde__object_init(npde_object *obj, const npde_component_info *info, const npde_config *node,
                              npde_backend *be);
void npde__object_fini(npde_object *obj);
/* Find the component of this kind (name, or node's `type:`), validate node
 * against its schema (defaults when node is NULL) and create an instance. */
npde_status npde__object_create_kind(const npde_registry *reg, npde_kind kind, const char *name,
                                     const npde_config *node, npde_backend *be, npde_object **out);
/* The same for a handle struct of `size` bytes that starts with npde_object. */
npde_status npde__object_create_sized(const npde_registry *reg, npde_kind kind, const char *name,
                                      const npde_config *node, npde_backend *be, size_t size, npde_object **out);
/* The live instance of a kind behind a handle, or an error naming the call. */
npde_status npde__object_check(const void *handle, npde_kind kind, const char *call);
#define NPDE__OPS(obj, type) ((const type *)((const npde_object *)(obj))->impl->ops)

#endif
