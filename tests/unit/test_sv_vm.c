/*
 * test_sv_vm.c - the supervisor's reading of QEMU's QMP events: a guest
 * power-off, a guest reset (a reboot under -no-reboot), anything else;
 * the VNC relay's listen address (R/var/vnc_listen).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/vm.h"
#include "supervisor/vnc.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static int ev(const char *line)
{
	return sv_vm_qmp_event(line, strlen(line));
}

static void test_events(void **state)
{
	(void)state;
	assert_int_equal(
	    ev("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
	       "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, "
	       "\"reason\": \"guest-shutdown\"}}"),
	    SV_VM_EV_SHUTDOWN);
	assert_int_equal(
	    ev("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
	       "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, "
	       "\"reason\": \"guest-reset\"}}"),
	    SV_VM_EV_RESET);
	assert_int_equal(
	    ev("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
	       "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, "
	       "\"reason\": \"host-qmp-system-reset\"}}"),
	    SV_VM_EV_RESET);
	/* no reason: a power-off */
	assert_int_equal(
	    ev("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
	       "\"event\": \"SHUTDOWN\"}"),
	    SV_VM_EV_SHUTDOWN);
	assert_int_equal(
	    ev("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
	       "\"event\": \"POWERDOWN\"}"),
	    SV_VM_EV_OTHER);
	assert_int_equal(ev("{\"return\": {}}"), SV_VM_EV_OTHER);
	assert_int_equal(ev("{\"QMP\": {\"version\": {}}}"), SV_VM_EV_OTHER);
	assert_int_equal(ev("not json"), SV_VM_EV_OTHER);
	assert_int_equal(ev(""), SV_VM_EV_OTHER);
	/* "reset" in another field is not the reason */
	assert_int_equal(
	    ev("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
	       "\"event\": \"SHUTDOWN\", \"data\": {\"x\": \"reset\", "
	       "\"reason\": \"guest-panic\"}}"),
	    SV_VM_EV_SHUTDOWN);
}

/* R/var/vnc_listen: one IP literal, blanks around it allowed. */
static void test_vnc_listen(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct hull_err err = {0};
	assert_int_equal(sv_vnc_listen_parse("127.0.0.1", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr,
			 htonl(INADDR_LOOPBACK));
	assert_int_equal(
	    sv_vnc_listen_parse("  2001:db8::1\n", &ss, &len, &err), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	static const char *const bad[] = {
	    "",	   "\n",	  "localhost", "1.2.3", "1.2.3.4 5.6.7.8",
	    "::g", "192.0.2.1/24"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (sv_vnc_listen_parse(bad[i], &ss, &len, &err) != -EINVAL ||
		    !strstr(err.msg, "vnc_listen"))
			fail_msg("accepted '%s'", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_vnc_listen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
