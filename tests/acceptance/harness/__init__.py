"""The acceptance run on a real AWS account, written as plain parts with seams.

`run.run()` creates an ephemeral stack of this program, deploys it, posts one marked event per
route it can probe, waits (with deadlines) until the processor has logged each marker and the
queue has drained, checks the dead-letter queue, and destroys and removes the stack whatever
happened (README, "Acceptance test on AWS"). Everything that talks to the outside world comes
in as an object with a small protocol (the Pulumi stack, an HTTP poster, a log reader, a queue
reader, a clock), so the suite proves the harness with fakes and the acceptance test plugs in
the real ones. Timing follows docs/design.md, "Testing": conditions with deadlines, never
fixed sleeps.

- `prerequisites`: what must be there for the test to run, and the skip reason otherwise;
- `stack`: the stack's name, its config, and the stack itself through the Automation API;
- `probes`: what is posted to which route, and posting it until the listener accepts it;
- `observe`: what the deployed stack shows (its processor's log group, its queues);
- `waiting`: the clock and waiting for a condition with a deadline;
- `interrupts`: Ctrl-C and SIGTERM, handled so clean-up always runs;
- `run`: the run itself, its clean-up and its report.
"""
