/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <blkid.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <libfdisk.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dissect.h"
#include "macro.h"
#include "parse-util.h"
#include "string-util.h"

/* Partition type UUIDs of the Discoverable Partitions Specification. The root, usr and
 * their verity partitions are per architecture: only the host's are ours. */
#if defined(__x86_64__)
#  define ROOT_TYPE        "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"
#  define USR_TYPE         "8484680c-9521-48c6-9c11-b0720656f69e"
#  define ROOT_VERITY_TYPE "2c7357ed-ebd2-46d9-aec1-23d437ec2bf5"
#  define USR_VERITY_TYPE  "77ff5f63-e7b6-4633-acf4-1565b864c0e6"
#elif defined(__i386__)
#  define ROOT_TYPE        "44479540-f297-41b2-9af7-d131d5f0458a"
#  define USR_TYPE         "75250d76-8cc6-458e-bd66-bd47cc81a812"
#  define ROOT_VERITY_TYPE "d13c5d3b-b5d1-422a-b29f-9454fdc89d76"
#  define USR_VERITY_TYPE  "8f461b0d-14ee-4e81-9aa9-049b6fb97abd"
#elif defined(__aarch64__)
#  define ROOT_TYPE        "b921b045-1df0-41c3-af44-4c6f280d3fae"
#  define USR_TYPE         "b0e01050-ee5f-4390-949a-9101b17104e9"
#  define ROOT_VERITY_TYPE "df3300ce-d69f-4c92-978c-9bfb0f38d820"
#  define USR_VERITY_TYPE  "6e11a4e7-fbca-4ded-b9e9-e1a512bb664e"
#elif defined(__arm__)
#  define ROOT_TYPE        "69dad710-2ce4-4e3c-b16c-21a1d49abed3"
#  define USR_TYPE         "7d0359a3-02b3-4f0a-865c-654403e70625"
#  define ROOT_VERITY_TYPE "7386cdf2-203c-47a9-a498-f2ecce45a2d6"
#  define USR_VERITY_TYPE  "c215d751-7bcd-4649-be90-6627490a4c05"
#elif defined(__riscv) && __riscv_xlen == 64
#  define ROOT_TYPE        "72ec70a6-cf74-40e6-bd49-4bda08e8f224"
#  define USR_TYPE         "beaec34b-8442-439b-a40b-984381ed097d"
#  define ROOT_VERITY_TYPE "b6ed5582-440b-4209-b8da-5ff7c419ea3d"
#  define USR_VERITY_TYPE  "8f1056be-9b05-47c4-81d6-be53128e5b54"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#  define ROOT_TYPE        "c31c45e6-3f39-412e-80fb-4809c4980599"
#  define USR_TYPE         "15bb03af-77e7-4d4a-b12b-c0d084f7491c"
#  define ROOT_VERITY_TYPE "906bd944-4589-4aae-a4e4-dd983917446a"
#  define USR_VERITY_TYPE  "ee2b9983-21e8-4153-86d9-b6901a54d1ce"
#elif defined(__s390x__)
#  define ROOT_TYPE        "5eead9a9-fe09-4a1e-a1d7-520d00531306"
#  define USR_TYPE         "8a4f5770-50aa-4ed3-874a-99b710db6fea"
#  define ROOT_VERITY_TYPE "b325bfbe-c7be-4ab8-8357-139e652d2f6b"
#  define USR_VERITY_TYPE  "31741cc4-1a2a-4111-a581-e00b447d2d06"
#elif defined(__loongarch64)
#  define ROOT_TYPE        "77055800-792c-4f94-b39a-98c91b762bb6"
#  define USR_TYPE         "e611c702-575c-4cbe-9a46-434fa0bf7e3f"
#  define ROOT_VERITY_TYPE "f3393b22-e9af-4613-a948-9d3bfbd0c535"
#  define USR_VERITY_TYPE  "f46b2c26-59ae-48f0-9106-c50ed47f673d"
#else
#  error "Unknown architecture: add its Discoverable Partitions type UUIDs"
#endif

static const struct {
        const char *name;
        const char *type;       /* GPT type UUID */
        const char *where;
} designators[_PARTITION_MAX] = {
        [PARTITION_ROOT]        = { "root",        ROOT_TYPE,                              "/"        },
        [PARTITION_USR]         = { "usr",         USR_TYPE,                               "/usr"     },
        [PARTITION_HOME]        = { "home",        "933ac7e1-2eb4-4f13-b844-0e14e2aef915", "/home"    },
        [PARTITION_SRV]         = { "srv",         "3b8f8425-20e0-4f3b-907f-1a25a76f98e8", "/srv"     },
        [PARTITION_VAR]         = { "var",         "4d21b016-b534-45c2-a9fb-5c16e091fd2d", "/var"     },
        [PARTITION_TMP]         = { "tmp",         "7ec6f557-3bc5-4aca-b293-16ef5df639d1", "/var/tmp" },
        [PARTITION_ESP]         = { "esp",         "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "/efi"     },
        [PARTITION_XBOOTLDR]    = { "xbootldr",    "bc13c2ff-59e6-4262-a352-b275fd6f7172", "/boot"    },
        [PARTITION_SWAP]        = { "swap",        "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", NULL       },
        [PARTITION_ROOT_VERITY] = { "root-verity", ROOT_VERITY_TYPE,                       NULL       },
        [PARTITION_USR_VERITY]  = { "usr-verity",  USR_VERITY_TYPE,                        NULL       },
};

/* GPT partition attribute bits the specification gives meaning to */
#define GPT_FLAG_GROWFS    (UINT64_C(1) << 59)
#define GPT_FLAG_READ_ONLY (UINT64_C(1) << 60)
#define GPT_FLAG_NO_AUTO   (UINT64_C(1) << 63)

#define MBR_TYPE_LINUX     0x83

const char *partition_designator_to_string(PartitionDesignator d) {
        return d >= 0 && d < _PARTITION_MAX ? designators[d].name : NULL;
}

const char *partition_designator_mount_point(PartitionDesignator d) {
        return d >= 0 && d < _PARTITION_MAX ? designators[d].where : NULL;
}

bool image_fstype_supported(const char *fstype) {
        static const char *const ok[] = { "ext4", "ext3", "ext2", "btrfs", "xfs", "squashfs", "erofs", "vfat" };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (streq(fstype, ok[i]))
                        return true;
        return false;
}

int uuid_from_string(const char *s, uint8_t ret[static PARTITION_UUID_SIZE]) {
        size_t n = 0;

        for (size_t i = 0; s[i]; i++) {
                int hi, lo;

                if (s[i] == '-' && (i == 8 || i == 13 || i == 18 || i == 23))
                        continue;
                if (n >= PARTITION_UUID_SIZE)
                        return -EINVAL;
                hi = unhexchar(s[i]);
                lo = hi < 0 ? -EINVAL : unhexchar(s[++i]);
                if (lo < 0)
                        return -EINVAL;
                ret[n++] = (uint8_t) (hi << 4 | lo);
        }
        return n == PARTITION_UUID_SIZE ? 0 : -EINVAL;
}

int unhex_memory(const char *s, uint8_t **ret, size_t *ret_size) {
        size_t l = strlen(s);
        uint8_t *b;

        if (l == 0 || l % 2 != 0)
                return -EINVAL;
        b = malloc(l / 2);
        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < l; i += 2) {
                int hi = unhexchar(s[i]), lo = unhexchar(s[i + 1]);

                if (hi < 0 || lo < 0) {
                        free(b);
                        return -EINVAL;
                }
                b[i / 2] = (uint8_t) (hi << 4 | lo);
        }
        *ret = b;
        *ret_size = l / 2;
        return 0;
}

_printf_(3, 4)
static int fail(char **ret_error, int r, const char *fmt, ...) {
        va_list ap;

        if (ret_error && !*ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

static void blkid_free_probep(blkid_probe *p) {
        if (*p)
                blkid_free_probe(*p);
}

int dissect_probe_fstype(int fd, uint64_t offset, uint64_t size, char *fstype, size_t fstype_size) {
        _cleanup_(blkid_free_probep) blkid_probe pr = NULL;
        const char *v = NULL;
        int r;

        fstype[0] = 0;
        pr = blkid_new_probe();
        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, (blkid_loff_t) offset, (blkid_loff_t) size) < 0)
                return -EIO;
        blkid_probe_enable_partitions(pr, 0);
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);

        r = blkid_do_safeprobe(pr);
        if (r == -2)
                return -EUCLEAN;
        if (r < 0)
                return -EIO;
        if (r == 0 && blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0 && v)
                snprintf(fstype, fstype_size, "%s", v);
        return 0;
}

/* libfdisk reports what it finds wrong through its "ask" callback; keep the first. */
typedef struct FdiskWarnings {
        char *first;            /* the first warning that counts */
        unsigned n_benign;      /* warnings about a GPT whose image grew since */
} FdiskWarnings;

/* The protective MBR's size and the backup header's place differ from the image's end
 * when the image grew after it was made (truncate -s, to give the guest room); a cut-short
 * image is caught before libfdisk (verify_gpt_backup_position). libfdisk reports growth
 * with these, which are therefore not errors. */
static bool fdisk_warning_is_growth(const char *m) {
        return startswith(m, "GPT PMBR size mismatch") ||
               startswith(m, "The backup GPT table is not on the end of the device") ||
               startswith(m, "MyLBA mismatch with real position at backup header");
}

/* libfdisk reports what it finds wrong through its "ask" callback; keep the first. */
static int fdisk_ask_collect(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data) {
        FdiskWarnings *w = data;
        const char *m;

        switch (fdisk_ask_get_type(ask)) {
        case FDISK_ASKTYPE_WARN:
        case FDISK_ASKTYPE_WARNX:
                m = fdisk_ask_print_get_mesg(ask);
                if (!m)
                        return 0;
                if (fdisk_warning_is_growth(m)) {
                        w->n_benign++;
                        return 0;
                }
                if (endswith(m, " detected.") && strstr(m, " error"))
                        return 0;       /* verification's summary: "N errors detected." */
                if (!w->first) {
                        size_t l = strlen(m);

                        /* its sentences end with a period; ours add one */
                        while (l > 0 && m[l - 1] == '.')
                                l--;
                        w->first = strndup(m, l);
                }
                return 0;
        case FDISK_ASKTYPE_INFO:
                return 0;
        default:
                return -EINVAL;   /* never answer a question: we only read */
        }
}

static void fdisk_unref_contextp(struct fdisk_context **c) {
        if (*c)
                fdisk_unref_context(*c);
}

/* Is the table consistent: both GPT headers and entry arrays valid with matching CRCs,
 * no overlapping or out-of-range partitions? libblkid quietly falls back to a backup
 * GPT; we refuse an image whose tables disagree instead of guessing. */
static int verify_table(int fd, char **ret_error) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        FdiskWarnings w = {};
        unsigned benign_before;
        int r;

        cxt = fdisk_new_context();
        if (!cxt)
                return -ENOMEM;
        r = fdisk_set_ask(cxt, fdisk_ask_collect, &w);
        if (r < 0)
                return r;
        r = fdisk_assign_device_by_fd(cxt, fd, "image", /* readonly= */ 1);
        if (r < 0) {
                r = fail(ret_error, -EBADMSG, "cannot read the partition table: %s", strerror(-r));
                goto finish;
        }
        if (!fdisk_has_label(cxt)) {
                r = fail(ret_error, -EBADMSG, "the partition table is invalid%s%s",
                         w.first ? ": " : "", strempty(w.first));
                goto finish;
        }
        if (w.first) {
                /* e.g. "The primary GPT table is corrupt, but the backup appears OK" */
                r = fail(ret_error, -EBADMSG, "inconsistent partition table: %s", w.first);
                goto finish;
        }

        /* every problem the verification counts comes with a warning */
        benign_before = w.n_benign;
        r = fdisk_verify_disklabel(cxt);
        if (r < 0)
                r = fail(ret_error, -EBADMSG, "cannot verify the partition table: %s", strerror(-r));
        else if (w.first || (unsigned) r > w.n_benign - benign_before)
                r = fail(ret_error, -EBADMSG, "inconsistent partition table: %s",
                         w.first ?: "libfdisk found problems");
        else
                r = 0;
        (void) fdisk_deassign_device(cxt, /* nosync= */ 1);
finish:
        free(w.first);
        return r;
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n) {
        uint32_t crc = UINT32_MAX;

        for (size_t i = 0; i < n; i++) {
                crc ^= p[i];
                for (unsigned k = 0; k < 8; k++)
                        crc = (crc >> 1) ^ (UINT32_C(0xedb88320) & -(crc & 1));
        }
        return ~crc;
}

/* A GPT header (the first 92 bytes of its sector) with a valid signature and CRC? */
static bool gpt_header_valid(const uint8_t h[static 512]) {
        uint8_t copy[512];
        uint32_t hsize, crc;

        if (memcmp(h, "EFI PART", 8) != 0)
                return false;
        memcpy(&hsize, h + 12, 4);
        memcpy(&crc, h + 16, 4);
        hsize = le32toh(hsize);
        if (hsize < 92 || hsize > 512)
                return false;
        memcpy(copy, h, hsize);
        memset(copy + 16, 0, 4);
        return crc32_ieee(copy, hsize) == le32toh(crc);
}

static int read_gpt_header(int fd, uint64_t lba, uint8_t ret[static 512], uint64_t *ret_my, uint64_t *ret_alt) {
        if (pread(fd, ret, 512, (off_t) (lba * 512)) != 512)
                return -EIO;
        memcpy(ret_my, ret + 24, 8);
        memcpy(ret_alt, ret + 32, 8);
        *ret_my = le64toh(*ret_my);
        *ret_alt = le64toh(*ret_alt);
        return 0;
}

/* The backup GPT header belongs in the image's last sector, or before it if the image
 * grew later; beyond the end, the image was cut short. Checked before libfdisk, which only
 * says the protective MBR does not match the size then. */
static int verify_gpt_backup_position(int fd, uint64_t size, char **ret_error) {
        uint8_t h[512];
        uint64_t my, alt;

        if (read_gpt_header(fd, 1, h, &my, &alt) < 0)
                return fail(ret_error, -EIO, "cannot read the primary GPT header");
        if (!gpt_header_valid(h))
                return 0;       /* libfdisk tells what is wrong with it */
        /* An image that grew since (truncate -s, to let the guest grow its partitions)
         * keeps its backup header inside: that is fine. One cut short has lost it. */
        if (alt > size / 512 - 1)
                return fail(ret_error, -EBADMSG,
                            "the backup GPT header lies beyond the end of the image (LBA %" PRIu64 ", last LBA %" PRIu64 "): "
                            "the image was truncated", alt, size / 512 - 1);
        return 0;
}

/* libfdisk checks each GPT header and its entry array on its own (CRCs, LBAs), but not
 * that the backup describes the same disk and partitions as the primary: compare the
 * headers, whose entry-array CRCs stand for the entries. */
static int verify_gpt_backup_matches(int fd, uint64_t size, char **ret_error) {
        uint8_t primary[512], backup[512];
        uint64_t p_my, p_alt, b_my, b_alt;

        if (read_gpt_header(fd, 1, primary, &p_my, &p_alt) < 0 || p_alt >= size / 512 ||
            read_gpt_header(fd, p_alt, backup, &b_my, &b_alt) < 0)
                return fail(ret_error, -EIO, "cannot read the GPT headers");
        if (memcmp(primary, backup, 16) != 0 ||                 /* signature, revision, header size */
            b_my != p_alt || b_alt != p_my ||
            memcmp(primary + 40, backup + 40, 32) != 0 ||       /* usable LBAs, disk GUID */
            memcmp(primary + 80, backup + 80, 12) != 0)         /* entry count and size, entries CRC */
                return fail(ret_error, -EBADMSG, "the primary and backup GPT disagree");
        return 0;
}

typedef struct PartitionExtent {
        blkid_loff_t start, end;        /* sectors, end exclusive */
        int partno;
} PartitionExtent;

static int extent_compare(const void *a, const void *b) {
        const PartitionExtent *x = a, *y = b;

        return x->start < y->start ? -1 : x->start > y->start;
}

/* Every used GPT entry within the usable area the header declares? libblkid drops an
 * entry that is not (so a root partition reaching into the backup table would just be
 * "missing"), and libfdisk does not complain. Run once the headers and entries passed
 * their CRC checks. */
static int verify_gpt_entries_in_range(int fd, char **ret_error) {
        _cleanup_free_ uint8_t *entries = NULL;
        uint8_t h[512];
        uint64_t my, alt, first_usable, last_usable, array_lba;
        uint32_t count, entry_size;
        size_t bytes;

        if (read_gpt_header(fd, 1, h, &my, &alt) < 0)
                return fail(ret_error, -EIO, "cannot read the primary GPT header");
        memcpy(&first_usable, h + 40, 8);
        memcpy(&last_usable, h + 48, 8);
        memcpy(&array_lba, h + 72, 8);
        memcpy(&count, h + 80, 4);
        memcpy(&entry_size, h + 84, 4);
        first_usable = le64toh(first_usable);
        last_usable = le64toh(last_usable);
        array_lba = le64toh(array_lba);
        count = le32toh(count);
        entry_size = le32toh(entry_size);
        if (entry_size < 128 || entry_size > 4096 || count > 16384 || array_lba > UINT64_MAX / 512)
                return fail(ret_error, -EBADMSG, "the GPT partition array has an invalid size");

        bytes = (size_t) count * entry_size;
        entries = malloc(bytes ?: 1);
        if (!entries)
                return -ENOMEM;
        if (pread(fd, entries, bytes, (off_t) (array_lba * 512)) != (ssize_t) bytes)
                return fail(ret_error, -EIO, "cannot read the GPT partition array");

        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *e = entries + (size_t) i * entry_size;
                static const uint8_t unused[16] = {};
                uint64_t start, end;

                if (memcmp(e, unused, sizeof(unused)) == 0)
                        continue;
                memcpy(&start, e + 32, 8);
                memcpy(&end, e + 40, 8);
                start = le64toh(start);
                end = le64toh(end);
                if (start > end || start < first_usable || end > last_usable)
                        return fail(ret_error, -EBADMSG,
                                    "partition %" PRIu32 " (LBA %" PRIu64 "-%" PRIu64 ") lies outside the usable area of the disk (LBA %" PRIu64 "-%" PRIu64 ")",
                                    i + 1, start, end, first_usable, last_usable);
        }
        return 0;
}

/* Partitions that share sectors: refused with their numbers (libfdisk names the wrong
 * pair, and blkid does not care). Sorted by start, so that a table with thousands of
 * entries costs no more than reading it. An MBR's extended partition holds its logical
 * ones and is left out. */
static int verify_no_overlaps(blkid_partlist pl, char **ret_error) {
        _cleanup_free_ PartitionExtent *e = NULL;
        int n = blkid_partlist_numof_partitions(pl);
        size_t k = 0, last = 0;

        if (n <= 1)
                return 0;
        e = calloc((size_t) n, sizeof(*e));
        if (!e)
                return -ENOMEM;
        for (int i = 0; i < n; i++) {
                blkid_partition pp = blkid_partlist_get_partition(pl, i);

                if (!pp || blkid_partition_is_extended(pp))
                        continue;
                e[k].start = blkid_partition_get_start(pp);
                e[k].end = e[k].start + blkid_partition_get_size(pp);
                e[k].partno = blkid_partition_get_partno(pp);
                k++;
        }
        qsort(e, k, sizeof(*e), extent_compare);
        /* 'last' is the extent reaching furthest so far */
        for (size_t i = 1; i < k; i++) {
                if (e[i].start < e[last].end)
                        return fail(ret_error, -EBADMSG, "partitions %i and %i overlap",
                                    MIN(e[last].partno, e[i].partno), MAX(e[last].partno, e[i].partno));
                if (e[i].end > e[last].end)
                        last = i;
        }
        return 0;
}

/* An MBR holds one extended partition at most. More are refused before libfdisk reads
 * them: libfdisk 2.38 leaks a sector buffer for every extended partition after the first
 * whose EBR it cannot read (read_extended() retries read_pte() on the same slot; found
 * by test/fuzz/fuzz-dissect). With readable EBRs it refuses the table anyway. Counted in
 * the raw table, since libblkid leaves out the empty entries libfdisk still follows. */
static int verify_mbr_extended(int fd, char **ret_error) {
        uint8_t mbr[512];
        unsigned extended = 0;

        if (pread(fd, mbr, sizeof(mbr), 0) != (ssize_t) sizeof(mbr))
                return fail(ret_error, -EIO, "cannot read the MBR");
        for (unsigned i = 0; i < 4; i++) {
                uint8_t type = mbr[446 + 16 * i + 4];

                if (type == 0x05 || type == 0x0f || type == 0x85)
                        extended++;
        }
        if (extended > 1)
                return fail(ret_error, -EBADMSG, "%u extended partitions in the MBR (one at most)", extended);
        return 0;
}

static int designator_from_gpt_type(const char *type, PartitionDesignator *ret) {
        for (PartitionDesignator d = 0; d < _PARTITION_MAX; d++)
                if (strcasecmp(type, designators[d].type) == 0) {
                        *ret = d;
                        return 0;
                }
        return -ENOENT;
}

static bool uuid_matches(const DissectedPartition *p, const uint8_t *hash, size_t hash_size, bool tail) {
        if (!hash || hash_size < PARTITION_UUID_SIZE)
                return true;
        if (!p->has_uuid)
                return false;
        return memcmp(p->uuid, tail ? hash + hash_size - PARTITION_UUID_SIZE : hash, PARTITION_UUID_SIZE) == 0;
}

static bool partition_wanted(PartitionDesignator d, const DissectedPartition *p, const DissectOptions *o) {
        switch (d) {
        case PARTITION_ROOT:
                return uuid_matches(p, o->root_hash, o->root_hash_size, false);
        case PARTITION_ROOT_VERITY:
                return uuid_matches(p, o->root_hash, o->root_hash_size, true);
        case PARTITION_USR:
                return uuid_matches(p, o->usr_hash, o->usr_hash_size, false);
        case PARTITION_USR_VERITY:
                return uuid_matches(p, o->usr_hash, o->usr_hash_size, true);
        default:
                return true;
        }
}

static int dissect_gpt_entry(blkid_partition pp, uint64_t image_size, const DissectOptions *o,
                             DissectedImage *m, char **ret_error) {
        const char *type = blkid_partition_get_type_string(pp), *uuid = blkid_partition_get_uuid(pp);
        unsigned long long flags = blkid_partition_get_flags(pp);
        blkid_loff_t start = blkid_partition_get_start(pp), size = blkid_partition_get_size(pp);
        int partno = blkid_partition_get_partno(pp);
        DissectedPartition p = {}, *slot;
        PartitionDesignator d;

        if (!type || designator_from_gpt_type(type, &d) < 0)
                return 0;       /* not ours: ignored, as the specification says */
        if (d != PARTITION_ESP && d != PARTITION_XBOOTLDR && (flags & GPT_FLAG_NO_AUTO))
                return 0;
        if (start < 0 || size <= 0 || partno <= 0 ||
            (uint64_t) start > image_size / 512 || (uint64_t) size > image_size / 512 - (uint64_t) start)
                return fail(ret_error, -EBADMSG, "partition %i is outside the image", partno);

        p = (DissectedPartition) {
                .found = true,
                .partno = (unsigned) partno,
                .offset = (uint64_t) start * 512,
                .size = (uint64_t) size * 512,
                .read_only = d != PARTITION_ESP && d != PARTITION_XBOOTLDR && (flags & GPT_FLAG_READ_ONLY),
                .growfs = flags & GPT_FLAG_GROWFS,
        };
        p.has_uuid = uuid && uuid_from_string(uuid, p.uuid) >= 0;
        if (!partition_wanted(d, &p, o))
                return 0;

        slot = &m->p[d];
        if (slot->found)
                /* the first of several candidates wins, as with systemd-dissect */
                return 0;
        *slot = p;
        return 0;
}

static int dissect_mbr_entry(blkid_partition pp, uint64_t image_size, DissectedImage *m, char **ret_error) {
        blkid_loff_t start = blkid_partition_get_start(pp), size = blkid_partition_get_size(pp);
        int partno = blkid_partition_get_partno(pp);

        if (blkid_partition_get_type(pp) != MBR_TYPE_LINUX || blkid_partition_is_extended(pp))
                return 0;
        if (start < 0 || size <= 0 || partno <= 0 ||
            (uint64_t) start > image_size / 512 || (uint64_t) size > image_size / 512 - (uint64_t) start)
                return fail(ret_error, -EBADMSG, "partition %i is outside the image", partno);
        if (m->p[PARTITION_ROOT].found)
                return 0;
        m->p[PARTITION_ROOT] = (DissectedPartition) {
                .found = true,
                .partno = (unsigned) partno,
                .offset = (uint64_t) start * 512,
                .size = (uint64_t) size * 512,
        };
        return 0;
}

int dissect_image_fd(int fd, uint64_t size, const DissectOptions *o, DissectedImage *ret, char **ret_error) {
        static const DissectOptions no_options = {};
        _cleanup_(blkid_free_probep) blkid_probe pr = NULL;
        const char *pttype = NULL, *fstype = NULL;
        DissectedImage m = {};
        blkid_partlist pl;
        int r, n;

        if (!o)
                o = &no_options;
        if (ret_error)
                *ret_error = NULL;
        if (size < 512)
                return fail(ret_error, -EBADMSG, "the image is too small to hold a file system");

        pr = blkid_new_probe();
        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, 0, (blkid_loff_t) size) < 0)
                return fail(ret_error, -EIO, "cannot read the image");
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);

        r = blkid_do_safeprobe(pr);
        if (r == -2)
                return fail(ret_error, -EBADMSG, "ambiguous image: more than one partition table or file system signature");
        if (r < 0)
                return fail(ret_error, -EIO, "cannot probe the image");
        if (r == 1)
                return fail(ret_error, -EBADMSG, "no partition table and no file system found");

        (void) blkid_probe_lookup_value(pr, "PTTYPE", &pttype, NULL);
        (void) blkid_probe_lookup_value(pr, "TYPE", &fstype, NULL);

        if (!pttype) {
                /* A bare file system is the root. */
                if (!fstype)
                        return fail(ret_error, -EBADMSG, "no partition table and no file system found");
                m.p[PARTITION_ROOT] = (DissectedPartition) { .found = true, .size = size };
                snprintf(m.p[PARTITION_ROOT].fstype, sizeof(m.p[PARTITION_ROOT].fstype), "%s", fstype);
                *ret = m;
                return 0;
        }

        if (streq(pttype, "PMBR"))
                /* libblkid found a protective MBR but no valid GPT header behind it */
                return fail(ret_error, -EBADMSG,
                            "the GPT is invalid: only its protective MBR is readable (the image may be truncated or its GPT headers damaged)");
        if (!streq(pttype, "gpt") && !streq(pttype, "dos"))
                return fail(ret_error, -EBADMSG, "unsupported partition table type '%s' (GPT or MBR expected)", pttype);
        /* the probe's values do not outlive the next probe: keep our own copy */
        snprintf(m.table, sizeof(m.table), "%s", pttype);
        pttype = NULL;

        pl = blkid_probe_get_partitions(pr);
        if (!pl)
                return fail(ret_error, -EBADMSG, "cannot read the partition table");
        r = verify_no_overlaps(pl, ret_error);
        if (r < 0)
                return r;
        if (streq(m.table, "gpt")) {
                r = verify_gpt_backup_position(fd, size, ret_error);
                if (r < 0)
                        return r;
        }
        if (streq(m.table, "dos")) {
                r = verify_mbr_extended(fd, ret_error);
                if (r < 0)
                        return r;
        }
        r = verify_table(fd, ret_error);
        if (r < 0)
                return r;
        if (streq(m.table, "gpt")) {
                r = verify_gpt_backup_matches(fd, size, ret_error);
                if (r < 0)
                        return r;
                r = verify_gpt_entries_in_range(fd, ret_error);
                if (r < 0)
                        return r;
        }

        n = blkid_partlist_numof_partitions(pl);
        for (int i = 0; i < n; i++) {
                blkid_partition pp = blkid_partlist_get_partition(pl, i);

                if (!pp)
                        continue;
                r = streq(m.table, "gpt") ? dissect_gpt_entry(pp, size, o, &m, ret_error)
                                         : dissect_mbr_entry(pp, size, &m, ret_error);
                if (r < 0)
                        return r;
        }

        if (o->root_hash && !(m.p[PARTITION_ROOT].found && m.p[PARTITION_ROOT_VERITY].found))
                return fail(ret_error, -EBADMSG, "no root and root-verity partitions match the root hash");
        if (o->usr_hash && !(m.p[PARTITION_USR].found && m.p[PARTITION_USR_VERITY].found))
                return fail(ret_error, -EBADMSG, "no usr and usr-verity partitions match the usr hash");
        if (!m.p[PARTITION_ROOT].found)
                return fail(ret_error, -ENOMEDIUM, streq(m.table, "gpt") ?
                            "no root partition for this architecture (type " ROOT_TYPE ")" :
                            "no Linux (0x83) partition in the MBR table");

        for (PartitionDesignator d = 0; d < _PARTITION_MAX; d++) {
                DissectedPartition *p = &m.p[d];

                if (!p->found || d == PARTITION_SWAP)
                        continue;
                r = dissect_probe_fstype(fd, p->offset, p->size, p->fstype, sizeof(p->fstype));
                if (r == -EUCLEAN)
                        return fail(ret_error, -EBADMSG, "partition %u (%s) carries more than one file system signature",
                                    p->partno, designators[d].name);
                if (r < 0)
                        return fail(ret_error, r, "cannot probe partition %u (%s)", p->partno, designators[d].name);
        }

        *ret = m;
        return 0;
}
