/*
 * holder_proto.h - the messages between hull-holder and the supervisor it
 * keeps (docs/internals.md, "The holder"). Header only: hull-holder links
 * nothing of hull's.
 *
 * One SOCK_SEQPACKET pair per supervisor; each message is one type byte,
 * then text (at most HOLDER_MSG_MAX bytes in all), some with one
 * descriptor (SCM_RIGHTS):
 *
 *   supervisor -> holder
 *     'P' NAME + fd   keep fd under NAME (replacing an older one)
 *     'D' NAME        close and forget NAME
 *     'S' TEXT        the supervisor's state, replayed to its successor;
 *                     forgets the exits recorded so far
 *     'Q'             the supervisor is done: its exit ends the holder
 *   holder -> supervisor
 *     'F' NAME + fd   a kept descriptor (replay, adopt mode only)
 *     'S' TEXT        the last state (replay)
 *     'X' PID STATUS  a process the holder reaped (an orphaned init or
 *                     emulator), in the replay and as it happens
 *     'E'             the end of the replay
 */
#ifndef HULL_SUPERVISOR_HOLDER_PROTO_H
#define HULL_SUPERVISOR_HOLDER_PROTO_H

#define HOLDER_MSG_MAX 512
#define HOLDER_NAME_MAX 32
#define HOLDER_FDS_MAX 96
#define HOLDER_EXITS_MAX 32

#endif
