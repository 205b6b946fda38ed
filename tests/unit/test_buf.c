/* Unit tests for common/buf: the bounded buffer, the output tail ring, hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

static void
test_buf_append_stops_at_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "abcdef", 6), 0);
	/* 6 + 5 > 10: refused, and nothing of it is kept. */
	assert_int_equal(buf_append(&b, "ghijk", 5), -1);
	assert_int_equal(b.len, 6);
	assert_string_equal((const char *)b.data, "abcdef");
	assert_int_equal(buf_append(&b, "ghij", 4), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "abcdefghij", 10);
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(b.len, 10);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void
test_buf_appendf_keeps_nul_and_limit(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	assert_int_equal(buf_appendf(&b, "%s=%d", "port", 8989), 0);
	assert_int_equal(b.len, 9);
	assert_string_equal((const char *)b.data, "port=8989");
	assert_int_equal(buf_appendf(&b, ",%s", "host"), 0);
	assert_string_equal((const char *)b.data, "port=8989,host");
	/* "abc" would make 17 > 16 bytes: refused, text unchanged. */
	assert_int_equal(buf_appendf(&b, "%s", "abc"), -1);
	assert_string_equal((const char *)b.data, "port=8989,host");
	assert_int_equal(b.len, 14);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal((const char *)b.data, "");
	assert_int_equal(buf_appendf(&b, "%016d", 7), 0);
	assert_int_equal(b.len, 16);
	buf_free(&b);
}

static void
test_buf_grows_and_keeps_content(void **state)
{
	struct buf b;
	char piece[100];
	size_t i;

	(void)state;
	buf_init(&b, 1 << 20);
	for (i = 0; i < 1000; i++) {
		memset(piece, 'a' + (int)(i % 26), sizeof(piece));
		assert_int_equal(buf_append(&b, piece, sizeof(piece)), 0);
	}
	assert_int_equal(b.len, 100000);
	assert_true(b.cap > b.len);
	for (i = 0; i < 1000; i++)
		assert_int_equal(b.data[i * 100 + 99], 'a' + (int)(i % 26));
	buf_free(&b);
}

static void
test_buf_free_is_safe_on_empty(void **state)
{
	struct buf b;

	(void)state;
	memset(&b, 0, sizeof(b));
	buf_free(&b);
	buf_free(NULL);
	/* A zeroed buffer has max 0: any non-empty append fails, empty succeeds. */
	assert_int_equal(buf_append(&b, "x", 1), -1);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_null(b.data);
}

static void
test_tail_keeps_last_bytes_across_wrap(void **state)
{
	struct tail t;
	char out[64];

	(void)state;
	assert_int_equal(tail_init(&t, 8), 0);
	tail_push(&t, "abc", 3);
	assert_int_equal(tail_copy(&t, out, sizeof(out)), 3);
	assert_string_equal(out, "abc");
	tail_push(&t, "defgh", 5);
	assert_int_equal(tail_copy(&t, out, sizeof(out)), 8);
	assert_string_equal(out, "abcdefgh");
	assert_int_equal(t.dropped, 0);
	tail_push(&t, "ijk", 3);
	assert_int_equal(tail_copy(&t, out, sizeof(out)), 8);
	assert_string_equal(out, "defghijk");
	assert_int_equal(t.dropped, 3);
	tail_push(&t, "lmnopq", 6);
	tail_copy(&t, out, sizeof(out));
	assert_string_equal(out, "jklmnopq");
	assert_int_equal(t.dropped, 9);
	tail_free(&t);
}

static void
test_tail_push_larger_than_cap(void **state)
{
	struct tail t;
	char out[64];

	(void)state;
	assert_int_equal(tail_init(&t, 4), 0);
	tail_push(&t, "xy", 2);
	tail_push(&t, "0123456789", 10);
	tail_copy(&t, out, sizeof(out));
	assert_string_equal(out, "6789");
	assert_int_equal(t.dropped, 8);
	/* A short output buffer gets the newest bytes. */
	assert_int_equal(tail_copy(&t, out, 3), 2);
	assert_string_equal(out, "89");
	tail_free(&t);
	tail_free(NULL);
}

static void
test_tail_cap_zero_counts_everything(void **state)
{
	struct tail t;
	char out[8];

	(void)state;
	assert_int_equal(tail_init(&t, 0), 0);
	tail_push(&t, "hello", 5);
	assert_int_equal(tail_copy(&t, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(t.dropped, 5);
	tail_free(&t);
}

static void
test_hex_round_trip(void **state)
{
	const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	uint8_t back[6];
	char text[13];
	size_t n = 99;

	(void)state;
	assert_int_equal(hex_encode(in, sizeof(in), text, sizeof(text)), 0);
	assert_string_equal(text, "00017f80abff");
	assert_int_equal(hex_decode(text, back, sizeof(back), &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(back, in, 6);
	assert_int_equal(hex_decode("00017F80ABFF", back, sizeof(back), &n), 0);
	assert_memory_equal(back, in, 6);
	assert_int_equal(hex_decode("", back, sizeof(back), &n), 0);
	assert_int_equal(n, 0);
}

static void
test_hex_rejects_bad_input(void **state)
{
	uint8_t out[4];
	char text[8];
	size_t n;

	(void)state;
	assert_int_equal(hex_decode("abc", out, sizeof(out), &n), -1);
	assert_int_equal(hex_decode("zz", out, sizeof(out), &n), -1);
	assert_int_equal(hex_decode("0g", out, sizeof(out), &n), -1);
	assert_int_equal(hex_decode("00 1", out, sizeof(out), &n), -1);
	assert_int_equal(hex_decode("0011223344", out, sizeof(out), &n), -1);
	/* 4 bytes need 9 characters of room. */
	assert_int_equal(hex_encode(out, 4, text, 8), -1);
	assert_string_equal(text, "");
	assert_int_equal(hex_encode(out, 0, text, 1), 0);
	assert_string_equal(text, "");
}

/* Parts joined by "; ", cut to the room left, counted past a limit; a
 * message may start after what the array holds. */
static void
test_msgbuf(void **state)
{
	char s[32] = "", t[64] = "first";
	struct msgbuf m;

	(void)state;
	msg_init(&m, s, sizeof(s), 0);
	assert_string_equal(s, "");
	msg_add(&m, "a %d", 1);
	msg_add(&m, "b");
	assert_string_equal(s, "a 1; b");
	msg_add(&m, "%s", "a part far too long to fit in what is left");
	assert_int_equal(strlen(s), sizeof(s) - 1);
	assert_int_equal(m.n, 3);
	msg_add(&m, "more"); /* no room: counted, not written */
	assert_int_equal(m.n, 4);
	assert_int_equal(strlen(s), sizeof(s) - 1);

	msg_init(&m, t, sizeof(t), 2);
	msg_add(&m, "x");
	msg_add(&m, "y");
	msg_add(&m, "z");
	msg_more(&m, "differences");
	assert_string_equal(t, "first; x; and 2 more differences");

	msg_init(&m, NULL, 0, 0);
	msg_add(&m, "nowhere");
	assert_int_equal(m.n, 1);
}

static void
test_str_array_free(void **state)
{
	char **v = calloc(3, sizeof(*v));

	(void)state;
	assert_non_null(v);
	v[0] = strdup("a");
	v[1] = strdup("b");
	str_array_free(v, 2);
	str_array_free(NULL, 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_append_stops_at_max),
	    cmocka_unit_test(test_buf_appendf_keeps_nul_and_limit),
	    cmocka_unit_test(test_buf_grows_and_keeps_content),
	    cmocka_unit_test(test_buf_free_is_safe_on_empty),
	    cmocka_unit_test(test_tail_keeps_last_bytes_across_wrap),
	    cmocka_unit_test(test_tail_push_larger_than_cap),
	    cmocka_unit_test(test_tail_cap_zero_counts_everything),
	    cmocka_unit_test(test_hex_round_trip),
	    cmocka_unit_test(test_hex_rejects_bad_input),
	    cmocka_unit_test(test_msgbuf),
	    cmocka_unit_test(test_str_array_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
