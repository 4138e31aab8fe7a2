package kiosk

// Metrics counts what happens at the kiosk, for its /metrics (the health
// package implements it with Prometheus). Every argument is from a small
// fixed set (a step, a message key, a QR kind, a result word), never
// anything of a citizen. Calls may happen with the controller's lock held:
// an implementation only counts, it does no I/O.
type Metrics interface {
	SessionStarted()
	// SessionEnded is called when a session is wiped: step is the last
	// screen it reached, completed whether that was at or past the receipt.
	SessionEnded(step string, completed bool)
	// Submission: result is accepted (the portal's number on the receipt),
	// provisional (a kiosk-issued number) or refused.
	Submission(result string)
	// PrintJob: a receipt printed or reprinted, ok false when it failed.
	PrintJob(ok bool)
	// Scanned: a document's pages, jammed when the scanner jammed.
	Scanned(pages int, jammed bool)
	QRRead(kind string)
	// LoginFailed: reason is the message key the citizen was shown.
	LoginFailed(reason string)
	Rated(stars int)
}

type noMetrics struct{}

func (noMetrics) SessionStarted()           {}
func (noMetrics) SessionEnded(string, bool) {}
func (noMetrics) Submission(string)         {}
func (noMetrics) PrintJob(bool)             {}
func (noMetrics) Scanned(int, bool)         {}
func (noMetrics) QRRead(string)             {}
func (noMetrics) LoginFailed(string)        {}
func (noMetrics) Rated(int)                 {}

// completedAt are the steps a session has reached once its application is
// safely kept.
func completedAt(s Step) bool { return s == StepReceipt || s == StepRating || s == StepThanks }

// loginFailure says whether a notice shown on the login screen is a failed
// login (its key is the failure's reason).
func loginFailure(key string) bool {
	switch key {
	case MsgLoginFailed, MsgLoginDenied, MsgProviderDown, MsgLoginTimedOut, MsgLoginNumberWrong, MsgGeneric:
		return true
	}
	return false
}
