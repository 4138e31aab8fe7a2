package provisioning

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"govkiosk/drivers/device"
)

// CheckTimeout bounds each self-test check.
const CheckTimeout = 10 * time.Second

// Check is one self-test step, usually one device.
type Check struct {
	Name string
	Run  func(ctx context.Context) device.Status
}

// Result is the outcome of one check.
type Result struct {
	Name   string        `json:"name"`
	Status device.Status `json:"status"`
	Took   time.Duration `json:"-"`
	OK     bool          `json:"ok"`
}

type resultJSON struct {
	Name   string        `json:"name"`
	Status device.Status `json:"status"`
	Took   string        `json:"took"` // e.g. "12ms"
	OK     bool          `json:"ok"`
}

// MarshalJSON writes Took as a duration string like "1.5s".
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{Name: r.Name, Status: r.Status, Took: r.Took.String(), OK: r.OK})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var v resultJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var took time.Duration
	if v.Took != "" {
		d, err := time.ParseDuration(v.Took)
		if err != nil {
			return fmt.Errorf("result %q: took: %w", v.Name, err)
		}
		took = d
	}
	*r = Result{Name: v.Name, Status: v.Status, Took: took, OK: v.OK}
	return nil
}

// Report is the whole self-test.
type Report struct {
	KioskID string    `json:"kioskId"`
	At      time.Time `json:"at"`
	Results []Result  `json:"results"`
	OK      bool      `json:"ok"`
	// CertNotAfter is when the device certificate expires (zero: not
	// known); it is renewed automatically once a third of its life is left.
	CertNotAfter time.Time `json:"certNotAfter,omitzero"`
}

// SelfTest runs the checks one after another, each under its own
// CheckTimeout. A check that panics or overruns its time is reported as a
// hardwareError; a check passes when its status is usable (online or busy).
func SelfTest(ctx context.Context, kioskID string, checks []Check, now func() time.Time) Report {
	if now == nil {
		now = time.Now
	}
	rep := Report{KioskID: kioskID, At: now(), Results: make([]Result, 0, len(checks)), OK: true}
	for _, c := range checks {
		start := now()
		st := runCheck(ctx, c)
		end := now()
		if st.Device == "" {
			st.Device = c.Name
		}
		if st.At.IsZero() {
			st.At = end
		}
		res := Result{Name: c.Name, Status: st, Took: end.Sub(start), OK: st.Usable()}
		rep.OK = rep.OK && res.OK
		rep.Results = append(rep.Results, res)
	}
	return rep
}

func runCheck(parent context.Context, c Check) device.Status {
	if c.Run == nil {
		return device.Status{Device: c.Name, State: device.HardwareError, Detail: "check has no function"}
	}
	ctx, cancel := context.WithTimeout(parent, CheckTimeout)
	defer cancel()
	done := make(chan device.Status, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- device.Status{Device: c.Name, State: device.HardwareError,
					Action: device.ActionMaintenance, Detail: fmt.Sprintf("check panicked: %v", p)}
			}
		}()
		done <- c.Run(ctx)
	}()
	select {
	case st := <-done:
		return st
	case <-ctx.Done():
		// A check that ignores its context is left behind; its answer is dropped.
		return device.Status{Device: c.Name, State: device.HardwareError,
			Detail: fmt.Sprintf("check did not finish: %v", context.Cause(ctx))}
	}
}

// WriteText writes one line per check (PASS/FAIL, device, state, media,
// action, detail, time taken) and then a summary line.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	passed := 0
	for _, res := range r.Results {
		verdict := "FAIL"
		if res.OK {
			verdict = "PASS"
			passed++
		}
		st := res.Status
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", verdict, oneLine(res.Name), dash(string(st.State)),
			"media="+dash(st.Media), "action="+dash(string(st.Action)),
			took(res.Took), dash(oneLine(st.Detail)))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	verdict := "FAIL"
	if r.OK {
		verdict = "PASS"
	}
	_, err := fmt.Fprintf(w, "%s: kiosk %s, %d of %d checks passed at %s\n",
		verdict, dash(r.KioskID), passed, len(r.Results), r.At.UTC().Format(time.RFC3339))
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if !r.CertNotAfter.IsZero() {
		if _, err := fmt.Fprintf(w, "device certificate valid until %s\n", r.CertNotAfter.UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	if r.Results == nil {
		r.Results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func took(d time.Duration) string {
	if d < time.Millisecond {
		return "<1ms"
	}
	return d.Round(time.Millisecond).String()
}
