/* testhttpd.h - a loopback HTTP server for the poll tests (libmicrohttpd,
 * one thread per connection, so a "hanging" answer blocks only itself).
 *
 *   /feed.xml       Atom feed listing the documents added, newest first;
 *                   ETag / Last-Modified change when the list changes, and
 *                   If-None-Match / If-Modified-Since get 304 unless
 *                   conditional answers are switched off
 *   /doc/NAME       the document NAME (404 if never added)
 *   /status/500     500
 *   /hang           sleeps 5 s before answering
 *   /loop           302 to itself, forever
 *   /to-feed        302 to /feed.xml
 *   /big            50 MB, chunked (no Content-Length)
 *   /bigcl          50 MB with Content-Length
 *   /notatom        an HTML page
 *   /ua             echoes the User-Agent
 *   /gzip           gzip-encoded body when the client accepts it */
#ifndef ANPI_TEST_HTTPD_H
#define ANPI_TEST_HTTPD_H

#include <stddef.h>

#define THTTPD_BIG_BYTES (50u * 1024 * 1024)

int thttpd_start(void);                 /* returns the port, or -1 */
void thttpd_stop(void);
void thttpd_reset(void);                /* no documents, counters zero, conditional on */
void thttpd_add_doc(const char *name);  /* becomes the newest entry */
void thttpd_list_twice(int on);         /* each entry appears twice in the feed */
void thttpd_conditional(int on);        /* honour If-None-Match / If-Modified-Since */
void thttpd_fail_once(const char *path);/* next request for path answers 500 */
unsigned thttpd_count(const char *path);/* requests seen for path */
unsigned thttpd_count_304(void);
char *thttpd_url(const char *path);     /* malloc'd http://127.0.0.1:PORT/path */
const char *thttpd_doc_body(const char *name, char *buf, size_t len);

#endif
