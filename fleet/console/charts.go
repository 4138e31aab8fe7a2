package console

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"govkiosk/fleet"
)

// Charts are drawn on the server as small inline SVG: no script, no CDN,
// readable without JavaScript. Each has a title for screen readers.

const chartW, chartH = 600, 60

// span is a stretch of time in one state.
type span struct {
	from, to time.Time
	state    string
}

// stateColor is the fill of a state in a strip chart.
func stateColor(s string) string {
	switch s {
	case "online", "full", "ready", "busy", "true":
		return "#2e7d32"
	case "low", "userError":
		return "#f9a825"
	case "", "unknown", "noDevice":
		return "#bdbdbd"
	default: // offline, out, jammed, coverOpen, hardwareError, false
		return "#c62828"
	}
}

func x(t, from, to time.Time) float64 {
	if !to.After(from) {
		return 0
	}
	f := float64(t.Sub(from)) / float64(to.Sub(from))
	return max(0, min(1, f)) * chartW
}

// strip draws spans as coloured bands over [from, to].
func strip(title string, spans []span, from, to time.Time) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d 24" role="img" aria-label="%s"><title>%s</title>`, chartW, template.HTMLEscapeString(title), template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<rect width="%d" height="24" fill="#eeeeee"/>`, chartW)
	for _, s := range spans {
		x0, x1 := x(s.from, from, to), x(s.to, from, to)
		if x1-x0 < 0.5 {
			x1 = x0 + 0.5
		}
		fmt.Fprintf(&b, `<rect x="%.1f" width="%.1f" height="24" fill="%s"><title>%s %s</title></rect>`,
			x0, x1-x0, stateColor(s.state), template.HTMLEscapeString(s.state), s.from.UTC().Format("2006-01-02 15:04"))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// spansOf turns (time, state) points into spans, each lasting until the
// next point and the last until end.
func spansOf[T any](pts []T, at func(T) time.Time, state func(T) string, end time.Time) []span {
	var out []span
	for i, p := range pts {
		to := end
		if i+1 < len(pts) {
			to = at(pts[i+1])
		}
		s := state(p)
		if n := len(out); n > 0 && out[n-1].state == s {
			out[n-1].to = to
			continue
		}
		out = append(out, span{from: at(p), to: to, state: s})
	}
	return out
}

// line draws values over time as a polyline with its maximum labelled.
func line(title string, ts []time.Time, vs []float64, from, to time.Time) template.HTML {
	var b strings.Builder
	top := 1.0
	for _, v := range vs {
		top = max(top, v)
	}
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s"><title>%s</title>`, chartW, chartH, template.HTMLEscapeString(title), template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fafafa" stroke="#e0e0e0"/>`, chartW, chartH)
	if len(vs) > 0 {
		b.WriteString(`<polyline fill="none" stroke="#1565c0" stroke-width="2" points="`)
		for i, v := range vs {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(ts[i], from, to), chartH-2-(v/top)*(chartH-14))
		}
		b.WriteString(`"/>`)
	}
	fmt.Fprintf(&b, `<text x="4" y="11" font-size="10">%s</text></svg>`, trimFloat(top))
	return template.HTML(b.String())
}

// bars draws labelled bars.
func bars(title string, labels []string, vs []float64) template.HTML {
	var b strings.Builder
	top := 1.0
	for _, v := range vs {
		top = max(top, v)
	}
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s"><title>%s</title>`, chartW, chartH+14, template.HTMLEscapeString(title), template.HTMLEscapeString(title))
	if len(vs) > 0 {
		w := float64(chartW) / float64(len(vs))
		for i, v := range vs {
			h := v / top * (chartH - 12)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1565c0"><title>%s: %s</title></rect>`,
				float64(i)*w+2, chartH-h, w-4, h, template.HTMLEscapeString(labels[i]), trimFloat(v))
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>`, float64(i)*w+w/2, chartH+12, template.HTMLEscapeString(labels[i]))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle">%s</text>`, float64(i)*w+w/2, chartH-h-2, trimFloat(v))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func trimFloat(v float64) string { return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") }

// increase sums a counter's rises between snapshots, a fall being a
// restart (the counter started again from zero).
func increase(prev, cur uint64) uint64 {
	if cur >= prev {
		return cur - prev
	}
	return cur
}

// kioskCharts are the per-kiosk charts over [from, to].
type kioskCharts struct {
	Online, Backlog, Sessions, Ratings template.HTML
	Devices                            []namedChart
}

type namedChart struct {
	Name  string
	Chart template.HTML
}

func drawKiosk(t func(string) string, v fleet.KioskView, pres []fleet.Presence, snaps []fleet.Snapshot, from, to time.Time) kioskCharts {
	var c kioskCharts
	// Online: the presence log, starting from the state before the window
	// when the log has nothing earlier.
	c.Online = strip(t("chart.online"), spansOf(pres, func(p fleet.Presence) time.Time { return p.At },
		func(p fleet.Presence) string {
			if p.Online {
				return "online"
			}
			return "offline"
		}, to), from, to)

	ts := make([]time.Time, len(snaps))
	backlog := make([]float64, len(snaps))
	for i, s := range snaps {
		ts[i], backlog[i] = s.At, float64(s.Backlog)
	}
	c.Backlog = line(t("chart.backlog"), ts, backlog, from, to)

	// Devices: the state (and media, when reported) of each device.
	var names []string
	seen := map[string]bool{}
	for _, s := range snaps {
		for _, d := range s.Devices {
			if !seen[d.Name] {
				seen[d.Name] = true
				names = append(names, d.Name)
			}
		}
	}
	for _, name := range names {
		state := func(s fleet.Snapshot) string {
			for _, d := range s.Devices {
				if d.Name == name {
					if d.Media != "" && d.State == "online" {
						return d.Media
					}
					return d.State
				}
			}
			return "unknown"
		}
		c.Devices = append(c.Devices, namedChart{name, strip(name, spansOf(snaps, func(s fleet.Snapshot) time.Time { return s.At }, state, to), from, to)})
	}

	// Sessions per day and ratings given, from the counters' increase.
	days := int(to.Sub(from).Hours()/24 + 0.5)
	perDay := make([]float64, max(days, 1))
	dayLabels := make([]string, len(perDay))
	for i := range perDay {
		dayLabels[i] = from.Add(time.Duration(i) * 24 * time.Hour).Format("01-02")
	}
	var ratings [5]float64
	for i := 1; i < len(snaps); i++ {
		d := int(snaps[i].At.Sub(from).Hours() / 24)
		if d >= 0 && d < len(perDay) {
			perDay[d] += float64(increase(snaps[i-1].Sessions, snaps[i].Sessions))
		}
		for r := range 5 {
			var p, q uint64
			if r < len(snaps[i-1].Ratings) {
				p = snaps[i-1].Ratings[r]
			}
			if r < len(snaps[i].Ratings) {
				q = snaps[i].Ratings[r]
			}
			ratings[r] += float64(increase(p, q))
		}
	}
	c.Sessions = bars(t("chart.sessions"), dayLabels, perDay)
	c.Ratings = bars(t("chart.ratings"), []string{"1", "2", "3", "4", "5"}, ratings[:])
	return c
}

// groupBar draws one office's or province's kiosks as online, problem and
// offline shares.
func groupBar(t func(string) string, g fleet.GroupCount) template.HTML {
	if g.Total == 0 {
		return ""
	}
	offline := g.Total - g.Online
	problemOnline := max(0, g.Problem-offline)
	fine := g.Total - g.Problem
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="bar" viewBox="0 0 200 14" role="img" aria-label="%s"><title>%s</title>`, t("chart.group"), t("chart.group"))
	xpos := 0.0
	for _, p := range []struct {
		n     int
		color string
	}{{fine, "#2e7d32"}, {problemOnline, "#f9a825"}, {offline, "#c62828"}} {
		w := float64(p.n) / float64(g.Total) * 200
		fmt.Fprintf(&b, `<rect x="%.1f" width="%.1f" height="14" fill="%s"/>`, xpos, w, p.color)
		xpos += w
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
