/*
 * The built-in detector pack: one table row per named detector (the names
 * are the values of scrub.patterns, documented in docs/SCRUBBING.md), plus
 * the checks that turn a regex candidate into a secret (Luhn, JWT segments
 * that decode to JSON objects, Basic credentials, placeholders, entropy,
 * public addresses).
 *
 * Owns: nothing at run time (constant tables).  Invariants: every pattern
 * compiles without PCRE2_UTF (the scanner runs on bytes); a pattern with a
 * named group "s" redacts only that group; anchors are literals one of
 * which occurs in every match (the scanner runs a pattern only when one of
 * its anchors is present, or, for anchor-less rows, when the string holds a
 * long enough run of token bytes or digits).
 */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "core/error.h"
#include "core/mem.h"
#include "scrub_patterns.h"

/* Characters of a key-ish name ("db_pass", "ibm-cloud.api_key"). */
#define NAME   "[A-Za-z0-9_.-]*"
/* An assignment: =, :, :=, =>, with optional quotes around the name. */
#define ASSIGN "[\"']?\\s*(?::=|=>|=|:)\\s*[\"']?"
/*
 * The bytes \s matches, for .needs: PCRE2's default tables have HT, LF,
 * VT, FF, CR and space; 0x85 and 0xA0 (white space in some locales) are in
 * too, so that the set holds whatever tables libpcre2 was built with.
 */
#define WS     " \t\n\v\f\r\x85\xa0"

static bool
patterns_has_alnum(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if ((c >= '0' && c <= '9') ||
            ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
            return true;
        }
    }
    return false;
}

/* lower is lower case already; s is compared case-insensitively. */
static bool
patterns_icontains(const char *lower, size_t len, const char *lit)
{
    return memmem(lower, len, lit, strlen(lit)) != NULL;
}

/*
 * Obvious placeholders: empty, templates (${VAR}, $VAR, {{x}}, <x>, %s),
 * one repeated filler character (xxxx, ****), and values that say they are
 * not real (changeme, example, placeholder, dummy, fake, your_..., ...).
 */
bool
as__scrub_is_placeholder(const char *s, size_t len)
{
    static const char *const words[] = {
        "changeme", "change_me", "example", "placeholder", "dummy",
        "fake",     "your_",     "your-",   "insert_",     "redacted",
        "<",        "notreal",   NULL,
    };
    char lower[256];
    bool same = true;

    if (len >= 2 && (s[0] == '"' || s[0] == '\'' || s[0] == '`') &&
        s[len - 1] == s[0]) {
        s++;
        len -= 2;
    }
    if (len == 0 || !patterns_has_alnum(s, len)) {
        return true;
    }
    if ((len >= 3 && s[0] == '$' && (s[1] == '{' || s[1] == '(') &&
         (s[len - 1] == '}' || s[len - 1] == ')')) ||
        (len >= 2 && s[0] == '$' &&
         ((s[1] >= 'A' && s[1] <= 'Z') || s[1] == '_')) ||
        (len >= 4 && s[0] == '{' && s[1] == '{') ||
        (len >= 2 && s[0] == '%' && (s[1] == 's' || s[1] == '('))) {
        return true;
    }
    for (size_t i = 1; i < len; i++) {
        if (s[i] != s[0]) {
            same = false;
            break;
        }
    }
    if (same && len >= 3) {
        return true;
    }
    if (len > sizeof(lower)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        lower[i] = (char) tolower((unsigned char) s[i]);
    }
    for (size_t i = 0; words[i] != NULL; i++) {
        if (patterns_icontains(lower, len, words[i])) {
            return true;
        }
    }
    return false;
}

static bool
patterns_check_aws_id(const char *s, size_t len)
{
    /* AWS's documented example key id. */
    return !(len == 20 && memcmp(s, "AKIAIOSFODNN7EXAMPLE", 20) == 0);
}

static bool
patterns_check_luhn(const char *s, size_t len)
{
    char d[20];
    size_t n = 0;
    unsigned sum = 0;
    int p2, p4;

    for (size_t i = 0; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            if (n == sizeof(d)) {
                return false;
            }
            d[n++] = (char) (s[i] - '0');
        }
    }
    if (n < 13 || n > 19) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned) d[n - 1 - i];

        if (i % 2 == 1) {
            v *= 2;
            if (v > 9) {
                v -= 9;
            }
        }
        sum += v;
    }
    if (sum % 10 != 0) {
        return false;
    }
    /* Issuer prefixes: Visa, Mastercard, Amex, Discover, JCB, Diners. */
    p2 = d[0] * 10 + d[1];
    p4 = p2 * 100 + d[2] * 10 + d[3];
    return d[0] == 4 || (p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720) ||
           p2 == 34 || p2 == 37 || p4 == 6011 || p2 == 65 ||
           (p4 >= 6440 && p4 <= 6499) || p2 == 35 || p2 == 36 || p2 == 38 ||
           (p4 >= 3000 && p4 <= 3059);
}

/* Decodes base64url s[0..len) into a NUL-terminated heap string. */
static char *
patterns_b64url(const char *s, size_t len, bool url, size_t *out_len)
{
    size_t padded = (len + 3) / 4 * 4;
    char *in = as_malloc(padded + 1);
    unsigned char *out = as_malloc(padded / 4 * 3 + 1);
    int n;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (url && c == '-') {
            c = '+';
        } else if (url && c == '_') {
            c = '/';
        }
        in[i] = c;
    }
    for (size_t i = len; i < padded; i++) {
        in[i] = '=';
    }
    n = EVP_DecodeBlock(out, (unsigned char *) in, (int) padded);
    if (n < 0 || len % 4 == 1) {
        as_freezero(in, padded + 1);
        as_freezero(out, padded / 4 * 3 + 1);
        return NULL;
    }
    /* EVP_DecodeBlock counts the bytes '=' padding stands for. */
    for (size_t i = padded; i > 0 && in[i - 1] == '='; i--) {
        n--;
    }
    as_freezero(in, padded + 1);
    out[n < 0 ? 0 : n] = '\0';
    *out_len = n < 0 ? 0 : (size_t) n;
    return (char *) out;
}

static bool
patterns_segment_is_object(const char *s, size_t len)
{
    size_t n;
    char *dec = patterns_b64url(s, len, true, &n);
    struct json_object *o;
    bool ok;

    if (dec == NULL) {
        return false;
    }
    o = json_tokener_parse(dec);
    ok = o != NULL && json_object_is_type(o, json_type_object);
    json_object_put(o);
    as_freezero(dec, n + 1);
    return ok;
}

static bool
patterns_check_jwt(const char *s, size_t len)
{
    const char *dot = memchr(s, '.', len);
    const char *end;

    if (dot == NULL) {
        return false;
    }
    end = memchr(dot + 1, '.', len - (size_t) (dot + 1 - s));
    if (end == NULL) {
        end = s + len;
    }
    return patterns_segment_is_object(s, (size_t) (dot - s)) &&
           patterns_segment_is_object(dot + 1, (size_t) (end - dot - 1));
}

static bool
patterns_check_basic(const char *s, size_t len)
{
    size_t n;
    char *dec;
    bool ok;

    while (len > 0 && s[len - 1] == '=') {
        len--;
    }
    dec = patterns_b64url(s, len, false, &n);
    if (dec == NULL) {
        return false;
    }
    ok = n >= 3 && memchr(dec, ':', n) != NULL && strlen(dec) == n;
    for (size_t i = 0; ok && i < n; i++) {
        ok = (unsigned char) dec[i] >= 0x20;
    }
    as_freezero(dec, n + 1);
    return ok;
}

static bool
patterns_check_bearer(const char *s, size_t len)
{
    /* "Bearer authentication" is prose; a token has digits or length. */
    for (size_t i = 0; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            return !as__scrub_is_placeholder(s, len);
        }
    }
    return len >= 20 && !as__scrub_is_placeholder(s, len);
}

static bool
patterns_check_value(const char *s, size_t len)
{
    size_t alpha = 0;

    if (len >= 2 && (s[0] == '"' || s[0] == '\'' || s[0] == '`') &&
        s[len - 1] == s[0]) {
        s++;
        len -= 2;
    }
    if (as__scrub_is_placeholder(s, len)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char) s[i] | 0x20) >= 'a' &&
            ((unsigned char) s[i] | 0x20) <= 'z') {
            alpha++;
        }
    }
    /* "max_tokens=512" is a setting, not a secret. */
    return alpha > 0 || len >= 8;
}

static bool
patterns_check_entropy(const char *s, size_t len)
{
    unsigned counts[256] = {0};
    bool hex = true;
    double h = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        counts[c]++;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
              (c >= 'A' && c <= 'F'))) {
            hex = false;
        }
    }
    for (size_t i = 0; i < 256; i++) {
        if (counts[i] > 0) {
            double p = (double) counts[i] / (double) len;

            h -= p * log2(p);
        }
    }
    return h >= (hex ? 3.0 : 4.5);
}

static bool
patterns_check_public_ip(const char *s, size_t len)
{
    unsigned o[4] = {0};
    size_t k = 0;

    for (size_t i = 0; i < len && k < 4; i++) {
        if (s[i] == '.') {
            k++;
        } else {
            o[k] = o[k] * 10 + (unsigned) (s[i] - '0');
        }
    }
    return !(o[0] == 0 || o[0] == 10 || o[0] == 127 || o[0] >= 224 ||
             (o[0] == 100 && o[1] >= 64 && o[1] <= 127) ||
             (o[0] == 169 && o[1] == 254) ||
             (o[0] == 172 && o[1] >= 16 && o[1] <= 31) ||
             (o[0] == 192 && o[1] == 168));
}

/* Order matters only for which detector is credited with an overlap. */
const struct as__scrub_builtin as__scrub_builtins[] = {
    {.name = "private_key_block",
     .regex = "-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
              "(?<s>[\\s\\S]*?)"
              "(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\\z)",
     .anchors = {"PRIVATE KEY"}},
    {.name = "aws_access_key",
     .regex = "(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])"
              "[A-Z0-9]{16}(?![A-Za-z0-9])",
     .anchors = {"AKIA", "ASIA", "ABIA", "ACCA", "A3T"},
     .check = patterns_check_aws_id},
    {.name = "aws_secret_key",
     .regex = "(?i)aws" NAME "(?:secret|access|key)" NAME ASSIGN
              "(?<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
     .anchors = {"aws"},
     .anchors_ci = true,
     /* ASSIGN holds ':' or '=' */
     .needs = ":="},
    {.name = "github_token",
     .regex = "(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|"
              "github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])",
     .anchors = {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}},
    {.name = "gitlab_token",
     .regex = "(?<![A-Za-z0-9_-])(?:(?:glpat|gldt|glft|glsoat|glrt)-"
              "[0-9A-Za-z_-]{20,50}|GR1348941[0-9A-Za-z_-]{20,50}|"
              "glcbt-(?:[0-9a-fA-F]{2}_)?[0-9A-Za-z_-]{20}|"
              "glimt-[0-9A-Za-z_-]{25}|glptt-[0-9A-Za-z_-]{40}|"
              "glagent-[0-9A-Za-z_-]{50,1024}|gloas-[0-9A-Za-z_-]{64})"
              "(?![0-9A-Za-z_-])",
     .anchors = {"glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "glcbt-",
                 "glimt-", "glptt-", "glagent-", "gloas-", "GR1348941"}},
    {.name = "slack_token",
     .regex = "(?<![A-Za-z0-9])xox[abposrte]-[0-9A-Za-z-]{10,}",
     .anchors = {"xox"}},
    {.name = "slack_webhook",
     .regex = "hooks\\.slack\\.com/(?:services|workflows|triggers)/"
              "(?<s>[A-Za-z0-9_/-]+)",
     .anchors = {"hooks.slack.com"}},
    {.name = "stripe_key",
     .regex = "(?<![A-Za-z0-9])[sr]k_live_[0-9A-Za-z]{20,247}",
     .anchors = {"k_live_"}},
    {.name = "google_api_key",
     .regex = "AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])",
     .anchors = {"AIza"}},
    {.name = "openai_key",
     .regex = "(?<![A-Za-z0-9_-])sk-(?:[A-Za-z0-9_-]{0,80}T3BlbkFJ"
              "[A-Za-z0-9_-]{10,}|(?:proj|svcacct|admin)-[A-Za-z0-9_-]{80,})",
     .anchors = {"T3BlbkFJ", "sk-"}},
    {.name = "npm_token",
     .regex = "(?<![A-Za-z0-9])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])|"
              "//[^\\s/:]+/(?:[^\\s:]*/)?:_authToken=\\s*"
              "(?<s>[^\\s\"'$][^\\s\"']*)",
     .anchors = {"npm_", "_authToken="}},
    {.name = "pypi_token",
     .regex = "pypi-AgE[A-Za-z0-9_-]{100,}",
     .anchors = {"pypi-AgE"}},
    {.name = "sendgrid_key",
     .regex = "SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}",
     .anchors = {"SG."}},
    {.name = "twilio_key",
     .regex = "(?<![A-Za-z0-9])(?:AC|SK)[a-z0-9]{32}(?![A-Za-z0-9])",
     .min_run = 34},
    {.name = "azure_storage_key",
     .regex = "(?i:(?:Account|SharedAccess)Key)="
              "(?<s>[A-Za-z0-9+/]{20,}={0,2})",
     .anchors = {"accountkey=", "sharedaccesskey="},
     .anchors_ci = true},
    {.name = "jwt",
     .regex = "(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{2,}"
              "(?:\\.[A-Za-z0-9_-]*)?",
     .anchors = {"eyJ"},
     .check = patterns_check_jwt},
    {.name = "bearer",
     .regex = "(?i)\\bbearer\\s+(?<s>[A-Za-z0-9._~+/-]{8,}=*)",
     .anchors = {"bearer"},
     .anchors_ci = true,
     .check = patterns_check_bearer,
     /* \s+ after the keyword */
     .needs = WS},
    {.name = "basic_auth",
     .regex = "(?i)\\bbasic\\s+(?<s>[A-Za-z0-9+/]{4,}={0,2})",
     .anchors = {"basic"},
     .anchors_ci = true,
     .check = patterns_check_basic,
     /* \s+ after the keyword */
     .needs = WS},
    {.name = "database_dsn",
     .regex = "(?i)\\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\\+srv)?|"
              "rediss?|amqps?|mssql|sqlserver|jdbc:[a-z]+)://"
              "[^\\s:/?#@\"'<>]*:(?<s>[^\\s/?#\"'<>]+)@[^\\s/@\"'<>]",
     .anchors = {"://"},
     .placeholders = true,
     /* the '@' after the password */
     .needs = "@"},
    {.name = "url_credentials",
     .regex = "(?i)\\b[a-z][a-z0-9+.-]{1,20}://"
              "[^\\s:/?#@\"'<>]*:(?<s>[^\\s/?#\"'<>]+)@[^\\s/@\"'<>]",
     .anchors = {"://"},
     .placeholders = true,
     /* the '@' after the password */
     .needs = "@"},
    {.name = "secret_assignment",
     .regex = "(?i)(?:pass(?:wd|word)?|pwd|secrete?|token|api[_-]?key|"
              "private[_-]?key|credentials?)" NAME "(?:\\[[0-9]*\\])?[\"']?"
              "(?:\\s*(?::=|=>|===?|!==?|:|=)\\s*@?|\\s+(?=[\"'`]))"
              "(?<s>\"[^\"]*\"|'[^']*'|`[^`]*`|[^\\s\"'`&][^\\s&\"'`]*)",
     .anchors = {"pass", "pwd", "secret", "token", "api", "private",
                 "credential"},
     .anchors_ci = true,
     .check = patterns_check_value,
     /* every operator holds ':' or '='; else \s+ before a quote */
     .needs = ":=" WS},
    {.name = "secret_comparison",
     .regex = "(?<s>\"[^\"]+\"|'[^']+') ?(?:===?|!==?)\\s*" NAME
              "(?i:pass|pwd|secret|token|key)",
     .anchors = {"\" ==", "\" !=", "' ==", "' !=", "\"==", "\"!=", "'==",
                 "'!="},
     .check = patterns_check_value},
    {.name = "credit_card",
     .regex = "(?<![0-9A-Za-z_.])(?:[0-9][ -]?){12,18}[0-9](?![0-9A-Za-z_])",
     .min_digits = 13,
     .check = patterns_check_luhn},
    {.name = "ibm_cloud_iam",
     .regex =
         "(?i)(?:ibm|cloud|iam)[A-Za-z0-9_-]*(?:key|pwd|password|pass)" ASSIGN
         "(?<s>[A-Za-z0-9_-]{44})(?![A-Za-z0-9_-])",
     .anchors = {"ibm", "cloud", "iam"},
     .anchors_ci = true,
     /* ASSIGN */
     .needs = ":="},
    {.name = "softlayer_key",
     .regex = "(?i)(?<![A-Za-z0-9])(?:softlayer|sl(?=[_-]|api|key|pass|pwd))"
              "[A-Za-z0-9_-]*"
              "(?:key|pwd|password|pass)[\"']?"
              "(?:\\s*(?::=|=|:)\\s*|\\s+)[\"']?"
              "(?<s>[a-z0-9]{64})(?![A-Za-z0-9])|"
              "api\\.softlayer\\.com/soap/v[0-9.]+/(?<t>[a-z0-9]{64})",
     .anchors = {"softlayer", "sl_", "sl-", "slapi", "slkey", "slpass",
                 "slpwd"},
     .anchors_ci = true,
     /* an operator or \s+; the URL alternative has '/' */
     .needs = ":=/" WS},
    {.name = "cloudant_key",
     .regex = "(?i)(?<![A-Za-z0-9])(?:cloudant|clou|cl)[A-Za-z0-9_-]*"
              "(?:api|pass|pwd|pw|password|key|secret)[A-Za-z0-9_-]*" ASSIGN
              "(?<s>[A-Za-z0-9]{24}|[A-Za-z0-9]{64})(?![A-Za-z0-9])",
     .anchors = {"cloudant", "clou", "cl_", "cl-"},
     .anchors_ci = true,
     /* ASSIGN */
     .needs = ":="},
    {.name = "ibm_cos_hmac",
     .regex = "(?i)(?:secret[_-]?access[_-]?key|cos[_-]?(?:hmac)?[_-]?"
              "secret[_-]?key)" ASSIGN "(?<s>[a-f0-9]{48})(?![A-Za-z0-9])",
     .anchors = {"secret"},
     .anchors_ci = true,
     /* ASSIGN */
     .needs = ":="},
    {.name = "artifactory_token",
     .regex = "(?<![A-Za-z0-9])(?:AKC[A-Za-z0-9]{10,}|"
              "AP[0-9A-F][A-Za-z0-9]{8,})(?![A-Za-z0-9])",
     .anchors = {"AKC", "AP0", "AP1", "AP2", "AP3", "AP4", "AP5", "AP6", "AP7",
                 "AP8", "AP9", "APA", "APB", "APC", "APD", "APE", "APF"}},
    {.name = "discord_token",
     .regex = "(?<![A-Za-z0-9_-])[A-O][A-Za-z0-9_-]{23,25}\\."
              "[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,}",
     .min_run = 59},
    {.name = "mailchimp_key",
     .regex = "(?<![A-Za-z0-9])[0-9a-f]{32}-us[0-9]{1,2}(?![A-Za-z0-9])",
     .anchors = {"-us"}},
    {.name = "telegram_token",
     .regex = "(?<![A-Za-z0-9_:])[0-9]{8,10}:AA[0-9A-Za-z_-]{33}"
              "(?![0-9A-Za-z_-])",
     .anchors = {":AA"}},
    {.name = "square_oauth",
     .regex = "sq0(?:csp|atp)-[0-9A-Za-z_\\\\-]{22,43}",
     .anchors = {"sq0"}},
    {.name = "ip_public",
     .regex = "(?<![0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
              "\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
              "(?![0-9]|\\.[0-9])",
     .anchors = {"."},
     .check = patterns_check_public_ip,
     .opt_in = true},
    {.name = "high_entropy",
     .regex = "(?<q>[\"'])(?<s>[A-Za-z0-9+/=_-]{20,})\\k<q>",
     .anchors = {"\"", "'"},
     .check = patterns_check_entropy,
     .opt_in = true},
};

const size_t as__scrub_n_builtins = AS_ARRAY_SIZE(as__scrub_builtins);
