/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "seccomp-oci.h"
#include "string-util.h"

/* The same argument compared twice, or more conditions than a rule takes: libseccomp
 * refuses to AND those, so runc adds each condition as a rule of its own. */
static bool args_need_split(const OciSeccompRule *rule) {
        if (rule->n_args > 6)
                return true;
        for (size_t i = 0; i < rule->n_args; i++)
                for (size_t j = i + 1; j < rule->n_args; j++)
                        if (rule->args[i].index == rule->args[j].index)
                                return true;
        return false;
}

static struct scmp_arg_cmp arg_cmp(const OciSeccompArg *a) {
        /* SCMP_CMP_MASKED_EQ: value is the mask, valueTwo what the masked argument equals */
        return (struct scmp_arg_cmp) {
                .arg = a->index,
                .op = (enum scmp_compare) a->op,
                .datum_a = a->value,
                .datum_b = a->value_two,
        };
}

static int rule_add(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned n, const struct scmp_arg_cmp *cmp) {
        int r = seccomp_rule_add_array(ctx, action, nr, n, cmp);

        /* a call some listed architecture lacks, or one libseccomp already has that rule for */
        if (r == -EFAULT || r == -EDOM || r == -EEXIST)
                return 0;
        return r;
}

static int add_oci_rule(scmp_filter_ctx ctx, const OciSeccompRule *rule, int nr) {
        struct scmp_arg_cmp cmp[6];
        int r;

        if (!args_need_split(rule)) {
                for (size_t i = 0; i < rule->n_args; i++)
                        cmp[i] = arg_cmp(&rule->args[i]);
                return rule_add(ctx, rule->action, nr, (unsigned) rule->n_args, cmp);
        }
        for (size_t i = 0; i < rule->n_args; i++) {
                cmp[0] = arg_cmp(&rule->args[i]);
                r = rule_add(ctx, rule->action, nr, 1, cmp);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int profile_new(const OciSeccomp *s, scmp_filter_ctx *ret) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        ctx = seccomp_init(s->default_action);
        if (!ctx)
                return -EINVAL;
        /* no_new_privs is process.noNewPrivileges's business, not the filter's */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return r;
        (void) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        for (size_t i = 0; i < s->n_architectures; i++) {
                r = seccomp_arch_add(ctx, s->architectures[i]);
                if (r < 0 && r != -EEXIST)
                        return r;
        }
        for (size_t i = 0; i < s->n_rules; i++) {
                const OciSeccompRule *rule = &s->rules[i];

                if (rule->action == s->default_action)
                        continue;
                STRV_FOREACH(name, rule->names) {
                        int nr = seccomp_syscall_resolve_name(*name);

                        if (nr == __NR_SCMP_ERROR)
                                continue;
                        r = add_oci_rule(ctx, rule, nr);
                        if (r < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(ctx);
        return 0;
}

int seccomp_oci_build(const OciSeccomp *s, SeccompFilter *ret) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        SeccompFilter f = SECCOMP_FILTER_NULL;
        int r;

        r = profile_new(s, &ctx);
        if (r >= 0)
                r = seccomp_ioctl_deny_build(&f.insns[0], &f.n_insns[0]);
        if (r >= 0)
                r = seccomp_program_export(ctx, &f.insns[1], &f.n_insns[1]);
        if (r < 0) {
                seccomp_filter_done(&f);
                return r;
        }
        f.flags = s->flags;
        *ret = f;
        return 0;
}

#define FILTER_FILE_MAGIC "berthscf"

typedef struct FilterFileHeader {
        char magic[8];
        uint32_t flags;
        uint32_t n_insns[SECCOMP_FILTER_PROGRAMS];
} FilterFileHeader;

int seccomp_filter_save(int dir_fd, const char *name, const SeccompFilter *f) {
        FilterFileHeader h = { .flags = f->flags };
        _cleanup_close_ int fd = -EBADF;
        int r;

        memcpy(h.magic, FILTER_FILE_MAGIC, sizeof(h.magic));
        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++)
                h.n_insns[k] = (uint32_t) f->n_insns[k];
        fd = openat(dir_fd, name, O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, &h, sizeof(h));
        for (size_t k = 0; r >= 0 && k < SECCOMP_FILTER_PROGRAMS; k++)
                r = loop_write(fd, f->insns[k], f->n_insns[k] * sizeof(struct sock_filter));
        if (r < 0)
                (void) unlinkat(dir_fd, name, 0);
        return r;
}

int seccomp_filter_read(int dir_fd, const char *name, SeccompFilter *ret) {
        _cleanup_(seccomp_filter_done) SeccompFilter f = SECCOMP_FILTER_NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        FilterFileHeader h;
        size_t size, at = sizeof(h), want = sizeof(h);
        int r;

        fd = openat(dir_fd, name, O_RDONLY|O_CLOEXEC|O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        r = read_full_fd(fd, sizeof(h) + SECCOMP_FILTER_PROGRAMS * SECCOMP_PROGRAM_MAX * sizeof(struct sock_filter),
                         &buf, &size);
        if (r < 0)
                return r;
        if (size < sizeof(h))
                return -EBADMSG;
        memcpy(&h, buf, sizeof(h));
        if (memcmp(h.magic, FILTER_FILE_MAGIC, sizeof(h.magic)) != 0)
                return -EBADMSG;
        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++) {
                if (h.n_insns[k] == 0 || h.n_insns[k] > SECCOMP_PROGRAM_MAX)
                        return -EBADMSG;
                want += h.n_insns[k] * sizeof(struct sock_filter);
        }
        if (size != want)
                return -EBADMSG;
        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++) {
                size_t n = h.n_insns[k] * sizeof(struct sock_filter);

                f.insns[k] = malloc(n);
                if (!f.insns[k])
                        return -ENOMEM;
                memcpy(f.insns[k], buf + at, n);
                f.n_insns[k] = h.n_insns[k];
                at += n;
        }
        f.flags = h.flags;
        *ret = f;
        f = SECCOMP_FILTER_NULL;
        return 0;
}
