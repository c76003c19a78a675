/* fs_opts.h - domfs's command line, as fuse_opt tables: domfs's own options become the
 * tree's configuration and the files' modes; everything else goes to FUSE. */
#pragma once

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdio.h>

#include "fs.h"

typedef struct {
    TreeConfig tree;           /* hosts, directories, timeouts */
    FsModes modes;
    char *mountpoint;
    int mountpoint_arg;        /* its index in argv (-1: not found) */
    bool foreground;
    bool debug;
    bool singlethread;
    bool nonempty;
    bool allow_other;
    struct fuse_args fuse;     /* what goes to FUSE */
} FsOptions;

/* 0: go on; 1: --help or --version was printed (exit 0); -1: an error was printed (exit
 * 2). */
int fs_opts_parse(int argc, char **argv, FsOptions *o);
void fs_opts_clear(FsOptions *o);
void fs_opts_usage(FILE *out, const char *prog);
