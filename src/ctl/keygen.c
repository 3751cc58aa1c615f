/*
 * `auditshipctl keygen`: generates an Ed25519 key pair with OpenSSL and
 * writes it as PEM files.  The private key file is created with O_EXCL and
 * mode 0600 so that an existing key is never overwritten and the key is
 * never readable by others, even for a moment.
 *
 * Owns nothing beyond one call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/mem.h"
#include "keygen.h"

/* Opens path for writing with mode, failing when it exists. */
static FILE *
keygen_create(const char *path, mode_t mode, struct as_error *err, int *rc)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    FILE *f;

    if (fd < 0) {
        *rc = -errno;
        as_error_set(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if ((f = fdopen(fd, "w")) == NULL) {
        *rc = -errno;
        as_error_set(err, "%s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
    }
    return f;
}

int
as_keygen_write(const char *prefix, struct as_error *err)
{
    EVP_PKEY *k = NULL;
    FILE *fk = NULL, *fp = NULL;
    char *kpath = NULL, *ppath = NULL;
    int rc = AS_ERR_INTERNAL;

    as_asprintf(&kpath, "%s.key", prefix);
    as_asprintf(&ppath, "%s.pub", prefix);
    if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL) {
        as_error_set(err, "Ed25519 key generation failed");
        goto out;
    }
    if ((fk = keygen_create(kpath, 0600, err, &rc)) == NULL) {
        goto out;
    }
    if ((fp = keygen_create(ppath, 0644, err, &rc)) == NULL) {
        fclose(fk);
        fk = NULL;
        unlink(kpath);
        goto out;
    }
    if (PEM_write_PrivateKey(fk, k, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_PUBKEY(fp, k) != 1) {
        as_error_set(err, "cannot write the PEM files");
        rc = AS_ERR_INTERNAL;
        goto fail;
    }
    if (fclose(fk) != 0 || fclose(fp) != 0) {
        fk = fp = NULL;
        rc = -errno;
        as_error_set(err, "%s: write failed", prefix);
        goto fail;
    }
    fk = fp = NULL;
    rc = 0;
    goto out;
fail:
    if (fk != NULL) {
        fclose(fk);
    }
    if (fp != NULL) {
        fclose(fp);
    }
    unlink(kpath);
    unlink(ppath);
out:
    EVP_PKEY_free(k);
    free(kpath);
    free(ppath);
    return rc;
}

int
as_ctl_keygen(int argc, char **argv)
{
    const char *prefix = NULL;
    struct as_error err;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            prefix = argv[++i];
        } else if (strncmp(argv[i], "--out=", 6) == 0) {
            prefix = argv[i] + 6;
        } else if (strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            printf("usage: auditshipctl keygen --out PREFIX\n"
                   "writes PREFIX.key (Ed25519 private key, mode 0600, for "
                   "chain.signing_key)\nand PREFIX.pub (for verify "
                   "--pubkey)\n");
            return 0;
        } else {
            fprintf(stderr, "auditshipctl keygen: unexpected argument: %s\n",
                    argv[i]);
            return 2;
        }
    }
    if (prefix == NULL || prefix[0] == '\0') {
        fprintf(stderr, "usage: auditshipctl keygen --out PREFIX\n");
        return 2;
    }
    as_error_clear(&err);
    if (as_keygen_write(prefix, &err) != 0) {
        fprintf(stderr, "auditshipctl keygen: %s\n", err.msg);
        return 1;
    }
    printf("wrote %s.key and %s.pub\n", prefix, prefix);
    return 0;
}
