// Package kiosk is the controller: the citizen-session state machine, the
// procedure catalogue, the application model and the configuration. It
// knows no device wire formats, imports no concrete driver (only the
// neutral types of drivers/device) and never imports ui.
//
// # Shape
//
//   - controller.go: Deps (what it is wired with), the device and service
//     interfaces it uses (Printer, DocumentScanner, Login, Portal, Outbox),
//     View, and the two preambles every action goes through: do (lock,
//     check the step, touch, act: for actions without I/O) and begin/apply/
//     end (an op: for actions that call a device, the portal, the provider
//     or the disk).
//   - flow.go: every forward and back move between steps, in one table.
//   - phase_*.go: the actions of each phase of the flow (start, login,
//     form, documents, confirm, receipt).
//   - packet.go: the packet laid out from a copy of the session, a pure
//     function.
//   - errors.go: the only errors whose messages reach the screen.
//
// # Rules
//
// The session lock is never held across I/O. An op marks the session busy
// (the screen says what is happening and further taps are refused), runs
// its I/O with its own context and deadline, and applies its result only if
// the same session is still at the state the op started from, so a wipe
// mid-op drops the result and nothing of one citizen reaches the next. What
// View returns is a copy; the UI may keep it. Once a packet is being
// written, Cancel and the idle timer wait for the receipt (every step there
// is bounded); the citizen is told "received" only after the outbox has the
// packet, and "refused", never "received", when the portal refuses it for
// good while they wait. Out of service (SetOutOfService: the cabinet door is
// open) the session is wiped at once and nothing starts another.
package kiosk
