/*
 * auditshipd: command line (DESIGN section 3), config loading, --check.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent.h"
#include "conf.h"
#include "log.h"
#include "pipeline.h"

#ifndef AS_SYSCONFDIR
#define AS_SYSCONFDIR "/etc"
#endif

static void
main_usage(FILE *f)
{
    fprintf(f,
            "usage: auditshipd [-c FILE] [--check] [--version] [--help]\n"
            "  -c, --config FILE  configuration (default %s)\n"
            "      --check        validate the configuration and exit\n"
            "      --version      print the version and exit\n"
            "  -h, --help         print this help and exit\n",
            "/etc/auditship/auditship.yaml");
}

static void
main_print_errors(const struct as_conf_errors *errs, const char *path)
{
    for (size_t i = 0; i < errs->n; i++) {
        fprintf(stderr, "%s:%d:%d: %s\n",
                errs->v[i].file != NULL ? errs->v[i].file : path,
                errs->v[i].line, errs->v[i].col, errs->v[i].msg);
    }
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'C'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = "/etc/auditship/auditship.yaml";
    struct as_conf_errors errs = {NULL, 0};
    struct as_config *conf = NULL;
    int check = 0, c, rc;

    as_log_init("auditshipd");
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'C':
            check = 1;
            break;
        case 'V':
            printf("auditshipd %s\n", PACKAGE_VERSION);
            return 0;
        case 'h':
            main_usage(stdout);
            return 0;
        default:
            main_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        main_usage(stderr);
        return 2;
    }
    if (as_config_load(path, &conf, &errs) != 0) {
        main_print_errors(&errs, path);
        as_conf_errors_free(&errs);
        return 1;
    }
    if (check) {
        rc = as_pipeline_check(conf, &errs);
        main_print_errors(&errs, path);
        as_conf_errors_free(&errs);
        as_config_free(conf);
        if (rc == 0) {
            printf("%s: configuration is valid\n", path);
        }
        return rc == 0 ? 0 : 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = as_agent_run(path, conf);
    curl_global_cleanup();
    return rc;
}
