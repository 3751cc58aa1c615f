/*
 * The `syslog` decoder: one syslog message (a line, a datagram or the body of
 * an RFC 6587 octet-counted frame) -> a json-c event.  Pure: no I/O, no
 * globals, safe on any thread.
 *
 * Accepted input
 *   After one trailing "\n", then one "\r", then one NUL are dropped (a
 *   datagram from Python's logging.handlers.SysLogHandler ends with a NUL),
 *   the message starts with PRI: "<" 1-3 digits ">" with a value of 0-191 and
 *   no leading zero.  A message without PRI is malformed.
 *   - RFC 5424 when PRI is followed by a digit that does not open an RFC 3339
 *     date (4 digits and "-"): VERSION (1-999) SP TIMESTAMP SP HOSTNAME SP
 *     APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG], checked
 *     strictly: TIMESTAMP is "-" or RFC 3339 with an upper-case "T" and "Z",
 *     1-6 fraction digits, seconds 00-59 (no leap second), a real calendar
 *     day and an offset of at most 23:59; header fields are 1 to 255 / 48 /
 *     128 / 32 printable US-ASCII characters or "-"; SD-IDs and PARAM-NAMEs
 *     are 1-32 printable US-ASCII characters other than '=', ' ', ']' and
 *     '"'; an SD-ID may not repeat; in a PARAM-VALUE, '"', '\' and ']' must
 *     be escaped with '\' (an unescaped ']' is malformed) and a '\' before
 *     any other character is kept as it is (RFC 5424 section 6.3.3).  One
 *     UTF-8 byte order mark at the start of MSG is removed.
 *   - Otherwise RFC 3164, read as liberally as a receiver must:
 *     "<PRI>[TIMESTAMP SP [HOSTNAME SP]][TAG[\[PID\]]: ]MSG".  TIMESTAMP is
 *     "Mmm dd hh:mm:ss" (day space-padded or not, an optional fraction) or
 *     RFC 3339 as rsyslog writes it (1-9 fraction digits).  Without a
 *     timestamp (Python's SysLogHandler: "<12>text") the rest is the message
 *     and there is no hostname.  After a timestamp, the first word is the
 *     HOSTNAME unless it is a tag: glibc syslog(3) and logger's default
 *     local form ("<13>Nov 22 07:00:00 tag[123]: msg") send no hostname.  A
 *     word is a tag when it is printable US-ASCII of the form NAME: or
 *     NAME[PID] or NAME[PID]: (NAME without '[', ']', ':'); the one space
 *     after the colon is not part of MSG.  A word that is not a tag stays
 *     in MSG ("<166>Jul  6 20:33:28 host Some message" has no tag).
 *     Known limit: text without a timestamp that starts with a digit
 *     ("<14>3 files copied" from SysLogHandler) cannot be told from an RFC
 *     5424 VERSION, is read as RFC 5424 and is malformed (the pipeline keeps
 *     its bytes); an ident ("app: ") or a JSON event avoids it.
 *   MSG, and every string of the event, must be valid UTF-8 (strict: no
 *   overlong forms, no surrogates): otherwise AS_ERR_PARSE, so the pipeline
 *   keeps the original bytes (raw_base64) with the reason.  Nothing is ever
 *   replaced by U+FFFD.
 *
 * The event (member names are fixed; a member is omitted when the message
 * has no such field or sends NILVALUE "-")
 *   {"syslog": {
 *      "facility": PRI / 8 (integer 0-23),
 *      "severity": PRI % 8 (integer 0-7),
 *      "version": VERSION (integer; RFC 5424 only: its absence marks 3164),
 *      "timestamp": TIMESTAMP exactly as sent (string: "2003-10-11T22:14:15
 *                   .003Z", or "Oct 11 22:14:15" for 3164, which has no
 *                   year and no zone),
 *      "hostname": HOSTNAME,
 *      "app_name": APP-NAME (3164: the tag's NAME),
 *      "procid": PROCID (3164: the tag's PID, as a string),
 *      "msgid": MSGID (5424 only),
 *      "structured_data": {SD-ID: {PARAM-NAME: value, ...}, ...} with the
 *                   escapes decoded; an element without parameters is {};
 *                   a PARAM-NAME repeated inside one element (RFC 5424
 *                   allows it) gets an array of all its values in the
 *                   order sent, a single one stays a plain string},
 *    "message": MSG (string; BOM removed; present, possibly "", whenever the
 *               message has a MSG part: RFC 5424 without the SP after
 *               STRUCTURED-DATA has none)}
 *
 * JSON messages: when MSG, after an optional "@cee:" cookie and optional
 * JSON whitespace, starts with '{' and as_parse_json accepts it as an
 * object, that object is the event: "syslog" (as above) is added to it and
 * there is no "message".  A client member named "syslog" is moved to
 * metadata.client_syslog (metadata is created when absent); when metadata
 * exists but is not an object, it goes to a top-level "client_syslog"
 * instead.  When that destination name is already taken, nothing is
 * overwritten: the JSON is not used and MSG stays a plain "message".  MSG
 * that is not valid JSON (or not an object) is a plain "message" too,
 * cookie included; that is never an error.
 */
#ifndef AS_PARSER_SYSLOG_H
#define AS_PARSER_SYSLOG_H

#include <stddef.h>

#include <json-c/json.h>

#include "../core/error.h"

/*
 * Decodes one syslog message buf[0..len) (see above).  Returns 0 and *out
 * (a JSON object owned by the caller, json_object_put), AS_ERR_PARSE with
 * the reason and its byte offset in err->msg, or AS_ERR_TOOBIG for a
 * message above 2 GiB.
 */
int as_parse_syslog(const char *buf, size_t len, struct json_object **out,
                    struct as_error *err);

#endif
