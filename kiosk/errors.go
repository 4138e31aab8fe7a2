package kiosk

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// UserError is the only kind of error whose message reaches the screen. Key
// names a message in the UI's catalogues (th, vi, en); Err is for the log.
// Wait, when set, is how long the citizen must wait before trying again:
// the screen says it in minutes (the message has a %d for them).
type UserError struct {
	Key  string
	Err  error
	Wait time.Duration
}

func (e *UserError) Error() string {
	if e.Err == nil {
		return e.Key
	}
	return e.Key + ": " + e.Err.Error()
}

func (e *UserError) Unwrap() error { return e.Err }

func userErr(key string, err error) error { return &UserError{Key: key, Err: err} }

// Message keys of user-safe errors. The UI translates each one.
const (
	MsgGeneric          = "err.generic"
	MsgLoginFailed      = "err.login_failed"
	MsgLoginDenied      = "err.login_denied"
	MsgProviderDown     = "err.provider_down"
	MsgScannerJammed    = "err.scanner_jam_staff" // never "open the scanner": staff clear a jam
	MsgScannerEmpty     = "err.scanner_empty"
	MsgScannerCover     = "err.scanner_cover"
	MsgScannerDown      = "err.scanner_down"
	MsgTooFewPages      = "err.too_few_pages"
	MsgTooManyPages     = "err.too_many_pages"
	MsgCodeWrong        = "err.code_wrong"
	MsgCodeExpired      = "err.code_expired"
	MsgCodeExhausted    = "err.code_exhausted"
	MsgCodeUnavailable  = "err.code_unavailable"
	MsgCodeWait         = "err.code_wait"       // too soon for another code: "… in %d minutes"
	MsgCodeLocked       = "err.code_locked"     // too many wrong codes: "… try again in %d minutes"
	MsgCodeResent       = "confirm.code_resent" // not an error: a new code is on its way
	MsgNotForKiosk      = "err.qr_not_for_kiosk"
	MsgStatusNotFound   = "err.status_not_found"
	MsgStatusOffline    = "err.status_offline"
	MsgProcedureUnready = "err.procedure_unready"
	MsgSessionExpired   = "err.session_expired"
	MsgOutboxFull       = "err.outbox_full"
	MsgIDQRInvalid      = "err.idqr_invalid"
	MsgIDQROtherPerson  = "err.idqr_other_person"
	MsgIDQRNotLogin     = "err.idqr_not_login"
)

// UserMessage returns the message key for err and, for errors that are not
// user-safe, a short code that the log line carries too.
func UserMessage(err error) (key, code string) {
	var ue *UserError
	if errors.As(err, &ue) {
		return ue.Key, ""
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%T", errors.Unwrap(err))))
	return MsgGeneric, "E-" + hex.EncodeToString(sum[:3])
}

// Message keys of what the screen says while an operation runs, of the
// refusal screen, and of the other user-safe errors added with them.
const (
	MsgBusy             = "err.busy"
	MsgBusyStatus       = "busy.status"
	MsgBusyLogin        = "busy.login"
	MsgBusyScanning     = "busy.scanning"
	MsgBusySendingCode  = "busy.sending_code"
	MsgBusyChecking     = "busy.checking"
	MsgBusySending      = "busy.sending"
	MsgBusyPrinting     = "busy.printing"
	MsgCodeShort        = "err.code_short"
	MsgLoginAgain       = "err.login_again"
	MsgFormProblems     = "err.form_problems"
	MsgRefusedForm      = "refused.form"
	MsgRefusedStaff     = "refused.staff"
	MsgLoginTimedOut    = "err.login_timed_out"
	MsgLoginNumberWrong = "err.login_number_wrong"
	MsgNotMe            = "login.not_me" // not an error: why the login screen is back
)

// MessageKeys lists every key the controller may put on the screen, for the
// UI's coverage test: each must be translated in every language.
var MessageKeys = []string{
	MsgGeneric, MsgLoginFailed, MsgLoginDenied, MsgProviderDown, MsgScannerJammed, MsgScannerEmpty,
	MsgScannerCover, MsgScannerDown, MsgTooFewPages, MsgTooManyPages, MsgCodeWrong, MsgCodeExpired,
	MsgCodeExhausted, MsgCodeUnavailable, MsgNotForKiosk, MsgStatusNotFound, MsgStatusOffline,
	MsgProcedureUnready, MsgSessionExpired, MsgOutboxFull, MsgIDQRInvalid, MsgIDQROtherPerson, MsgIDQRNotLogin,
	MsgCodeWait, MsgCodeLocked, MsgCodeResent,
	MsgBusy, MsgBusyStatus, MsgBusyLogin, MsgBusyScanning, MsgBusySendingCode, MsgBusyChecking, MsgBusySending,
	MsgBusyPrinting, MsgCodeShort, MsgLoginAgain, MsgFormProblems, MsgRefusedForm, MsgRefusedStaff,
	MsgLoginTimedOut, MsgLoginNumberWrong, MsgNotMe, StageChoose, StageLogin, StageDetails, StageDocuments, StageCheck, StageReceipt,
}
