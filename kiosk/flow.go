package kiosk

import (
	"fmt"
	"slices"
)

// event is something that moves the citizen from one screen to another.
type event string

const (
	evStart       event = "start"       // touch the attract (or status) screen
	evProcedure   event = "procedure"   // a procedure chosen
	evLoggedIn    event = "loggedIn"    // the provider's callback verified
	evConfirmed   event = "confirmed"   // "Yes, this is me"
	evNotMe       event = "notMe"       // "No, this is not me": log in again
	evFormDone    event = "formDone"    // a valid form submitted
	evDocsDone    event = "docsDone"    // the last document accepted
	evCodeSent    event = "codeSent"    // a confirmation code is on its way
	evSubmitted   event = "submitted"   // the packet is in the outbox: receipt
	evRefused     event = "refused"     // the portal refused the packet for good
	evFix         event = "fix"         // after a refusal: change the answers
	evLoginAgain  event = "loginAgain"  // the citizen's login expired mid-session
	evReceiptDone event = "receiptDone" // receipt taken
	evRated       event = "rated"       // rating given or skipped
	evStatus      event = "status"      // a receipt QR read on an idle screen
	evBack        event = "back"        // the back button
)

// to is a transition to a fixed step.
func to(s Step) func(*session) Step { return func(*session) Step { return s } }

// flow is every move of the citizen flow, forward and back, in one table:
// from a step, an event leads to the step its function returns. A function
// may set up the step it enters (which document is shown). Cancel, the idle
// timer and the end of a session are not here: they wipe from any step.
var flow = map[Step]map[event]func(*session) Step{
	// The header's language buttons choose the language on every screen:
	// the start leads straight to the catalogue.
	StepAttract:   {evStart: to(StepCatalogue), evStatus: to(StepStatus)},
	StepStatus:    {evStart: to(StepCatalogue), evStatus: to(StepStatus)},
	StepCatalogue: {evProcedure: to(StepLogin), evBack: to(StepAttract)},
	StepLogin:     {evLoggedIn: to(StepIdentity), evBack: to(StepCatalogue)},
	StepIdentity:  {evConfirmed: afterIdentity, evNotMe: to(StepLogin)},
	StepForm:      {evFormDone: afterForm},
	StepDocuments: {evDocsDone: to(StepReview), evBack: lastQuestion},
	StepReview:    {evCodeSent: to(StepConfirm), evBack: beforeReview, evLoginAgain: to(StepLogin)},
	StepConfirm:   {evSubmitted: to(StepReceipt), evRefused: to(StepRefused), evBack: to(StepReview), evLoginAgain: to(StepLogin)},
	StepRefused:   {evFix: to(StepForm)},
	StepReceipt:   {evReceiptDone: to(StepRating), evRated: to(StepThanks)}, // the receipt screen asks for the rating too
	StepRating:    {evRated: to(StepThanks)},
}

// afterIdentity: a citizen who logged in again after their login expired
// finds their checked form (and documents) where they left it.
func afterIdentity(s *session) Step {
	if s.resume && len(ValidateForm(s.procedure.Fields, s.form)) == 0 {
		return StepReview
	}
	s.question = 0
	return StepForm
}

// lastQuestion goes back from the first document to the form's last question.
func lastQuestion(s *session) Step {
	s.question = max(0, len(Questions(s.procedure.Fields))-1)
	return StepForm
}

// afterForm goes to the first document, or straight to review without any.
func afterForm(s *session) Step {
	s.docIndex = 0
	if len(s.procedure.Documents) == 0 {
		return StepReview
	}
	return StepDocuments
}

// beforeReview goes back to the last document, or to the form without any.
func beforeReview(s *session) Step {
	if s.procedure != nil && len(s.procedure.Documents) > 0 {
		s.docIndex = len(s.procedure.Documents) - 1
		return StepDocuments
	}
	if s.procedure != nil {
		return lastQuestion(s)
	}
	return StepForm
}

// fire moves s along the flow table. An event the table does not have from
// s's step is a programming error, reported and not followed.
func (s *session) fire(ev event) error {
	next, ok := flow[s.step][ev]
	if !ok {
		return fmt.Errorf("kiosk: no transition from %s on %s", s.step, ev)
	}
	s.step = next(s)
	s.gen++
	s.notice, s.noticeCode = "", ""
	s.askCancel = false
	return nil
}

// moved records a change within a step (the next document, the next
// question) that makes operations started before it stale.
func (s *session) moved() {
	s.gen++
	s.notice, s.noticeCode = "", ""
	s.askCancel = false
}

// canGoBack reports whether the back button leads somewhere.
func (s *session) canGoBack() bool {
	if s.step == StepDocuments && s.docIndex > 0 || s.step == StepForm && s.question > 0 {
		return true
	}
	_, ok := flow[s.step][evBack]
	return ok
}

// Stages are the parts of the flow the step indicator counts ("Step 3 of
// 6: your details"), as message keys.
const (
	StageChoose    = "stage.choose"
	StageLogin     = "stage.login"
	StageDetails   = "stage.details"
	StageDocuments = "stage.documents"
	StageCheck     = "stage.check"
	StageReceipt   = "stage.receipt"
)

// stageOf is the stage each step of the citizen's flow belongs to; the
// start, status and out-of-service screens belong to none.
var stageOf = map[Step]string{
	StepCatalogue: StageChoose,
	StepLogin:     StageLogin, StepIdentity: StageLogin,
	StepForm:      StageDetails,
	StepDocuments: StageDocuments,
	StepReview:    StageCheck, StepConfirm: StageCheck, StepRefused: StageCheck,
	StepReceipt: StageReceipt, StepRating: StageReceipt, StepThanks: StageReceipt,
}

// progress is where s stands in its procedure's stages: the stage's number
// (from 1), how many there are and its key; 0, 0, "" off the flow. A
// procedure without documents has no documents stage.
func (s *session) progress() (n, of int, key string) {
	key, ok := stageOf[s.step]
	if !ok || s.procedure == nil && s.step != StepCatalogue {
		return 0, 0, "" // the thank-you screen, once the citizen's data is dropped
	}
	stages := []string{StageChoose, StageLogin, StageDetails, StageDocuments, StageCheck, StageReceipt}
	if s.procedure != nil && len(s.procedure.Documents) == 0 {
		stages = slices.DeleteFunc(stages, func(k string) bool { return k == StageDocuments })
	}
	return slices.Index(stages, key) + 1, len(stages), key
}
