/* db.h - asynchronous PostgreSQL on the libuv loop.
 *
 * A small pool of libpq connections, each driven by a uv_poll_t on its
 * socket (no blocking libpq call after start-up).  Two ways to use it:
 *
 *   anpi_db_query()    one statement on whichever connection is free (FIFO);
 *   anpi_db_acquire()  an exclusive connection for a multi-statement unit of
 *                      work (BEGIN ... COMMIT), given back with
 *                      anpi_db_release() (which rolls back an open
 *                      transaction, so an error path cannot leak one).
 *
 * Callbacks get the final PGresult of the statement (valid only during the
 * callback) or an error message; exactly one of them is non-NULL.  A broken
 * connection is re-opened with backoff; work queued meanwhile waits. */
#ifndef ANPI_DB_H
#define ANPI_DB_H

#include <stdbool.h>

#include <libpq-fe.h>
#include <uv.h>

struct anpi_db;
struct anpi_db_conn;

typedef void (*anpi_db_cb)(void *arg, const PGresult *res, const char *err);
typedef void (*anpi_db_lease_cb)(void *arg, struct anpi_db_conn *c);

int  anpi_db_create(uv_loop_t *loop, const char *conninfo, int pool_size, struct anpi_db **out);
void anpi_db_close(struct anpi_db *db, void (*closed)(void *), void *arg);

/* params: nparams text values (NULL = SQL NULL); copied. */
void anpi_db_query(struct anpi_db *db, const char *sql, int nparams, const char *const *params,
                   anpi_db_cb cb, void *arg);

void anpi_db_acquire(struct anpi_db *db, anpi_db_lease_cb cb, void *arg);
void anpi_db_conn_query(struct anpi_db_conn *c, const char *sql, int nparams,
                        const char *const *params, anpi_db_cb cb, void *arg);
void anpi_db_release(struct anpi_db_conn *c);

/* Connections currently open and idle/busy (for /healthz and metrics). */
int anpi_db_connected(const struct anpi_db *db);
unsigned long anpi_db_queue_depth(const struct anpi_db *db);

/* LISTEN on channel over a connection of its own (not one of the pool),
 * driven by the loop like the others and re-opened with backoff when it
 * breaks.  cb(payload, arg) runs for every notification; cb(NULL, arg)
 * means "notifications may have been missed: forget everything derived
 * from them" and runs each time the LISTEN takes effect (first connect and
 * every reconnect) and each time the connection is lost.
 * anpi_db_listening() first reads (without waiting) whatever has already
 * arrived, running cb for it, then tells whether the channel is listened
 * to; while it is false nothing can be known about changes, so a cache
 * that relies on the channel must not be used.  The pool's connections
 * LISTEN as well, so that a change made through this process is handled
 * before the callback of the statement that made it.   Closed by
 * anpi_db_close().  Returns ANPI_EPARSE for an empty or over-long channel
 * name, or one already listened to. */
int  anpi_db_listen(struct anpi_db *db, const char *channel, void (*cb)(const char *payload, void *arg),
                    void *arg);
bool anpi_db_listening(struct anpi_db *db, const char *channel);

/* Start-up only (blocking): apply the numbered migrations in order, each
 * in its own transaction, recording them in schema_migrations. */
int anpi_db_migrate(const char *conninfo, char *err, size_t errlen);

#endif
