/**
 * @file registry.h
 * @brief Layer types by name: how model files rebuild layers, your own included.
 *
 * A model file records each layer as its type name and the configuration its
 * `describe` slot writes ("filters=32 kernel=3 ..."). Loading looks the name
 * up here and calls the type's factory with that configuration. Built-in
 * types are always known (the library's own table of names and factories,
 * searched first, then the registered types, both called the same way);
 * register your own before loading files that use them (see
 * examples/custom-layer).
 *
 * Ownership: the registry copies type names; @p user pointers are borrowed
 * and must stay valid while registered.
 *
 * Thread-safety: the registry is process-wide and guarded by a lock, so
 * registering, unregistering and loading may happen from any thread. A
 * factory is called without the lock held. Do not unregister a type while
 * another thread may be loading a file that uses it.
 */
/** @addtogroup layers
 * @{ */
#ifndef DIGITCNN_REGISTRY_H
#define DIGITCNN_REGISTRY_H

#include <stdint.h>

#include "export.h"
#include "layer_interface.h"
#include "status.h"

DCNN_BEGIN_DECLS

/**
 * @brief Creates a layer of a registered type from its configuration.
 * The factory of a layer type whose `describe` slot writes "factor=0.5"
 * (my_scale_create() makes the layer with dcnn_layer_create()):
 * @code{.c}
 * static dcnn_status my_scale_factory(const char *config, void *user, dcnn_layer **out) {
 *   (void)user;
 *   float factor = 0;
 *   dcnn_status s = dcnn_config_float(config, "factor", &factor); // the message names the key
 *   return s == DCNN_OK ? my_scale_create(factor, out) : s;
 * }
 * @endcode
 * @param config What the type's `describe` slot wrote ("" if it has none).
 * @param user The pointer given to dcnn_layer_register().
 * @param[out] out The new, unbuilt layer. On failure the library destroys
 *        whatever @p *out holds: a factory that destroys a layer it made
 *        itself must set @p *out back to NULL (else it is freed twice).
 * @return #DCNN_OK, or an error with a message saying what is wrong with
 *         @p config (dcnn_config_int() and dcnn_config_float() write those).
 */
typedef dcnn_status (*dcnn_layer_factory)(const char *config, void *user, dcnn_layer **out);

/**
 * @brief Registers a layer type so that model files using it can be loaded.
 * Once, before loading model files that hold the type:
 * @code{.c}
 * if (dcnn_layer_register("example.scale", my_scale_factory, NULL) != DCNN_OK)
 *   fprintf(stderr, "%s\n", dcnn_last_error());
 * @endcode
 * @param type_name The name the type's vtable reports (letters, digits, '_',
 *        '.', '-'; at most 63 characters). Copied.
 * @param factory Creates a layer from a configuration.
 * @param user Passed to @p factory.
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT (bad name, a built-in type, or
 *         already registered); #DCNN_ERR_OUT_OF_MEMORY.
 */
DCNN_API dcnn_status dcnn_layer_register(const char *type_name, dcnn_layer_factory factory, void *user);

/**
 * @brief Removes a registered type.
 * @param type_name The name.
 * @return #DCNN_OK, #DCNN_ERR_NOT_FOUND (not registered),
 *         #DCNN_ERR_INVALID_ARGUMENT (NULL or a built-in type).
 */
DCNN_API dcnn_status dcnn_layer_unregister(const char *type_name);

/**
 * @brief Creates a layer by type name and configuration, as loading does.
 * @param type_name A built-in or registered type.
 * @param config Its configuration ("" or NULL for none).
 * @param[out] out The new, unbuilt layer; NULL on failure. The caller owns it.
 * A residual block (type "residual") is not made this way: its layers come
 * from the lines after it in a model file, so this returns
 * #DCNN_ERR_UNSUPPORTED for it.
 * @return #DCNN_OK; #DCNN_ERR_INVALID_ARGUMENT (NULL @p type_name or @p out);
 *         #DCNN_ERR_NOT_FOUND (unknown type, the known ones listed);
 *         #DCNN_ERR_BAD_FORMAT (a built-in type's configuration misses a key,
 *         has a bad value, a key the type does not know or a word that is not
 *         key=value: the message names the type and the key);
 *         #DCNN_ERR_INVALID_STATE (a factory that returned OK with no layer,
 *         or a layer of another type); #DCNN_ERR_UNSUPPORTED ("residual"); an
 *         error from the factory, prefixed with the type.
 */
DCNN_API dcnn_status dcnn_layer_from_config(const char *type_name, const char *config, dcnn_layer **out);

/**
 * @brief Reads a whole number from a "key=value key=value" configuration.
 * @param config The configuration.
 * @param key The key.
 * @param min Smallest allowed value.
 * @param max Largest allowed value.
 * @param[out] out The value.
 * @return #DCNN_OK; #DCNN_ERR_BAD_FORMAT when the key is missing, given twice
 *         or its value is not a whole number in [min, max] (a value of 64
 *         bytes or more, or one starting with white space, included), or a word of
 *         @p config is not key=value (as the built-in types' configurations:
 *         the message names it); #DCNN_ERR_INVALID_ARGUMENT (NULL @p key or
 *         @p out, a @p key that is empty or holds '=' or a space);
 *         #DCNN_ERR_OUT_OF_MEMORY (a configuration of more than 32 pairs is
 *         checked for duplicate keys in a sorted copy).
 */
DCNN_API dcnn_status dcnn_config_int(const char *config, const char *key, int32_t min, int32_t max, int32_t *out);

/**
 * @brief Reads a finite number from a "key=value key=value" configuration.
 *
 * The number is read in the C locale ("0.99") whatever setlocale() the
 * program called, so files written under any locale load under any other;
 * thread-safe.
 * @param config The configuration.
 * @param key The key.
 * @param[out] out The value.
 * @return #DCNN_OK; #DCNN_ERR_BAD_FORMAT (the key missing or given twice; a
 *         value of 64 bytes or more, starting with white space, or not a
 *         number that rounds to a finite float; or a word of @p config that
 *         is not key=value);
 *         #DCNN_ERR_INVALID_ARGUMENT, #DCNN_ERR_OUT_OF_MEMORY (as dcnn_config_int()).
 */
DCNN_API dcnn_status dcnn_config_float(const char *config, const char *key, float *out);

DCNN_END_DECLS

#endif /* DIGITCNN_REGISTRY_H */
/** @} */
