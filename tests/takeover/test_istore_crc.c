/* test_istore_crc.c - the store's checksum is CRC32C whichever way it is computed.
 *
 * fs_istore.c uses the CPU's crc32 instruction where there is one and a table elsewhere;
 * a store written by one binary is read by the next (an upgrade, possibly on another
 * build), so both must give the standard CRC32C. The checksum is private to the module:
 * this test compiles the module itself to reach it. */
#include "../../fs/fs_istore.c"

#include <glib.h>

#define CRC_ROUNDS 20000
#define CRC_MAX_LEN 700

/* The check value of CRC32C ("123456789"), both ways. */
static void
test_vector(void)
{
    bool hw;

    istore_crc(0, "", 0);   /* initializes the table and the CPU check */
    hw = istore_crc_use_hw;
    istore_crc_use_hw = false;
    g_assert_cmphex(istore_crc(0, "123456789", 9), ==, 0xe3069283u);
    istore_crc_use_hw = hw;
    g_assert_cmphex(istore_crc(0, "123456789", 9), ==, 0xe3069283u);
    if (!hw)
        g_test_message("this CPU has no crc32 instruction: the table was checked twice");
}

/* Random buffers, seeds and lengths (every tail length): the two ways agree. */
static void
test_agree(void)
{
    g_autoptr(GRand) r = g_rand_new_with_seed(20261130);
    unsigned char buf[CRC_MAX_LEN];
    bool hw;

    istore_crc(0, "", 0);
    hw = istore_crc_use_hw;
    for (int t = 0; t < CRC_ROUNDS; t++) {
        size_t len = (size_t)g_rand_int_range(r, 0, CRC_MAX_LEN);
        uint32_t seed = g_rand_int(r);
        uint32_t a, b;

        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)g_rand_int_range(r, 0, 256);
        istore_crc_use_hw = false;
        a = istore_crc(seed, buf, len);
        istore_crc_use_hw = hw;
        b = istore_crc(seed, buf, len);
        g_assert_cmphex(a, ==, b);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/istore/crc/vector", test_vector);
    g_test_add_func("/istore/crc/agree", test_agree);
    return g_test_run();
}
