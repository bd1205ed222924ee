/* jsonout.h - JSON text written by hand, for the writers that stream a document with
 * fprintf instead of building a cJSON tree: the clients' --json result (the client kit
 * links no cJSON) and the bench's results.json.
 */
#ifndef EC_JSONOUT_H
#define EC_JSONOUT_H

#include <stdio.h>

/* Writes s as a JSON string, quotes included: '"' and '\' escaped, control bytes as
 * \u00XX, every other byte as is (s is taken to be UTF-8). */
void ec_json_fputs(FILE *f, const char *s);

#endif
