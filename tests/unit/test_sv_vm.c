/*
 * test_sv_vm.c - the supervisor's reading of QEMU's QMP events: a guest
 * power-off, a guest reset (a reboot under -no-reboot), anything else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/vm.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
