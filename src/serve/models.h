/*
 * models.h - the models a server serves: every NAME.bin of a models
 * directory, mmapped (cf_model_read over cf_reader_open), each with its
 * scorer, looked up by name through reference-counted handles.
 *
 * Versions: /train publishes a fine-tuned model as a new file NAME_N.bin
 * (written to a temp name and renamed, so a crash leaves no partial model
 * and loses none), loads it like the others and adds it; if it was trained
 * from the default model, it becomes the default in the same step.  A
 * request holds a handle from cf_registry_get() to cf_served_put(), so
 * the version it started with stays whole until it is done (no torn
 * reads); nothing is unloaded while the registry lives.
 *
 * Names: [A-Za-z0-9_.-], 1 to CF_MODEL_NAME_MAX bytes, no leading dot;
 * a name from a client reaches the filesystem only as a name the registry
 * already holds, or as one it made itself.
 */
#ifndef CF_SERVE_MODELS_H
#define CF_SERVE_MODELS_H

#include <stdatomic.h>
#include <stddef.h>

#include "model.h"
#include "score.h"

#define CF_MODEL_NAME_MAX 64

typedef struct cf_served {
	char name[CF_MODEL_NAME_MAX + 1];
	cf_model *m;
	cf_scorer *sc;
	uint32_t *pop;          /* ratings of each item in the training data */
	atomic_int refs;        /* the registry's one, plus one per user */
} cf_served;

typedef struct cf_registry cf_registry;

/* 1 if name is a well-formed model name (see above). */
int cf_model_name_ok(const char *name);

/*
 * Loads every NAME.bin of dir, after removing the temp versions (".NAME.
 * bin.tmp-XXXXXX") a killed server left there, each named on stderr.  The
 * default is dflt (NULL: the first name in byte order).  NULL with a reason in err if dir cannot be read, holds
 * no model, a model is malformed, or dflt is not among them.
 */
cf_registry *cf_registry_open(const char *dir, const char *dflt, char *err, size_t errlen);
/* Releases the registry's handles (each freed when its last user is done). */
void cf_registry_free(cf_registry *g);

/* A handle to model name (NULL: the default), or NULL if there is none. */
cf_served *cf_registry_get(cf_registry *g, const char *name);
void cf_served_put(cf_served *h);

/* The names served, sorted; *n of them.  Free with cf_registry_names_free. */
char **cf_registry_names(cf_registry *g, size_t *n);
void cf_registry_names_free(char **names, size_t n);

/*
 * Reserves the next version name of model `from`: its name without a
 * trailing _DIGITS, then _N with N one more than any version served,
 * reserved or on disk.  0, or -1 (the name would be too long).
 */
int cf_registry_reserve(cf_registry *g, const char *from, char *name, size_t len);
/* Gives back a reserved name that will not be published. */
void cf_registry_unreserve(cf_registry *g, const char *name);
/*
 * Writes m as dir/NAME.bin (temp file, fsync, rename), maps it back, and
 * adds it; it becomes the default if `from` is the default now.  Releases
 * the reservation either way.  0, or -1 with a reason in err.
 */
int cf_registry_publish(cf_registry *g, const char *name, const cf_model *m,
                        const char *from, char *err, size_t errlen);

#endif
