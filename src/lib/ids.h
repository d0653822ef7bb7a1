/*
 * ids.h - the one rule for raw ids: their canonical form.  csv2bin writes
 * every user and item id in this form, and everything that looks an id up
 * (join-meta, mf-score, the metadata and the server) canonicalises it the
 * same way first, so "018", "+18" and "18.0" are the one id "18".
 */
#ifndef CF_IDS_H
#define CF_IDS_H

#include <stddef.h>

/*
 * The canonical form of an id: [+-]?digits(.0*)? becomes the integer in
 * decimal (no '+', no leading zeros, no ".0", "-0" is "0"); anything else
 * is kept as it is.  Writes into buf (at least len + 2 bytes: only a
 * negative integer is copied there) or points into id; returns the length
 * and sets *out.
 */
size_t cf_canon_id(const char *id, size_t len, char *buf, const char **out);

#endif
