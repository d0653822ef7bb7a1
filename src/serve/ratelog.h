/*
 * ratelog.h - the server's durable ratings log: what POST /ratings
 * records, one record per request, appended to MODELS/ratings.log and
 * fsynced before the request is answered, replayed at start.  This module
 * owns the byte format and the file; what the records mean to a user's
 * history is overlay.h's.
 *
 * File: the 8 bytes "CFRLOG1\n", then records, each
 *     u32 len | u32 crc | payload (len bytes)
 * (little-endian; crc is zlib's CRC-32 of the payload), the payload
 *     i64 ts | u16 user_len | user | u32 n | n x (u8 kind | u16 item_len |
 *     item | f32 rating)
 * with ids in their canonical form (ids.h), 1 to CF_RL_ID_MAX bytes, and
 * n from 1 to CF_RL_ENTRIES_MAX.  The rating is meaningful for CF_RL_RATE
 * only (0 otherwise) and finite.
 *
 * Crashes: a record is written with one write() and fdatasync()ed; a
 * crash can leave only the last record short or with a bad checksum (it
 * was never acknowledged).  Opening drops such a torn tail, with a
 * warning naming the file, offset and size, and truncates the file to the
 * last whole record.  Anything else that does not check (a bad record
 * followed by more than one record's worth of bytes, a payload that
 * checksums but does not parse, a wrong magic) is an error naming the
 * file and byte offset: the log is not touched.
 */
#ifndef CF_SERVE_RATELOG_H
#define CF_SERVE_RATELOG_H

#include <stddef.h>
#include <stdint.h>

#define CF_RL_MAGIC "CFRLOG1\n"
#define CF_RL_MAGIC_LEN 8
#define CF_RL_ID_MAX 256
#define CF_RL_ENTRIES_MAX 1000
/* The largest payload a valid record can have. */
#define CF_RL_PAYLOAD_MAX (8 + 2 + CF_RL_ID_MAX + 4 + \
                           (size_t)CF_RL_ENTRIES_MAX * (1 + 2 + CF_RL_ID_MAX + 4))

typedef enum cf_rl_kind {
	CF_RL_RATE = 1,         /* the user rated item `rating` */
	CF_RL_UNRATE = 2,       /* the user's rating of item is removed (rating: null) */
	CF_RL_HIDE = 3,         /* not interested: item is never recommended to the user */
	CF_RL_UNHIDE = 4,       /* interested again */
} cf_rl_kind;

typedef struct cf_rl_entry {
	uint8_t kind;           /* a cf_rl_kind */
	const char *item;       /* not NUL-terminated */
	size_t item_len;
	float rating;
} cf_rl_entry;

typedef struct cf_rl_record {
	int64_t ts;             /* unix seconds */
	const char *user;
	size_t user_len;
	size_t n;
	cf_rl_entry *e;
} cf_rl_record;

/* Bytes of r's record, header included (at most 8 + CF_RL_PAYLOAD_MAX). */
size_t cf_rl_size(const cf_rl_record *r);
/* Writes r's record (cf_rl_size bytes) to out.  r must be valid (see above). */
void cf_rl_encode(const cf_rl_record *r, unsigned char *out);
/*
 * Parses a payload of len bytes into r; its entries go to e (room for
 * CF_RL_ENTRIES_MAX) and point into p.  0, or -1 if it is malformed.
 */
int cf_rl_decode(const unsigned char *p, size_t len, cf_rl_record *r, cf_rl_entry *e);

typedef struct cf_rlog cf_rlog;
/* Called for each record in order; a non-zero return stops the replay (an error). */
typedef int (*cf_rl_apply)(void *arg, const cf_rl_record *r, char *err, size_t errlen);

/*
 * Opens the log at path for appending, after replaying every record
 * through apply (NULL: none); a log that does not exist is created (and
 * its directory fsynced) by the first append, so a server nobody rates
 * on writes nothing.  A torn tail is dropped and truncated away; the
 * warning is written to warn (warn[0] is 0 if there was none).  NULL with
 * the message in err on an error.  readonly: nothing is created or
 * truncated (a torn tail is still skipped and warned about); the handle
 * cannot append.
 */
cf_rlog *cf_rlog_open(const char *path, int readonly, cf_rl_apply apply, void *arg,
                      char *warn, size_t wlen, char *err, size_t errlen);
/*
 * Appends r (written in one write, then fdatasync).  Not thread-safe: the
 * caller serializes appends.  0, or -1 with a message (the file is
 * truncated back to its size before, so a failed append leaves nothing).
 */
int cf_rlog_append(cf_rlog *l, const cf_rl_record *r, char *err, size_t errlen);
/* The file's size in bytes. */
uint64_t cf_rlog_size(const cf_rlog *l);
void cf_rlog_close(cf_rlog *l);

#endif
