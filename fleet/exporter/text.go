package exporter

import (
	"bufio"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Handler serves the series in the Prometheus text format (gzip when the
// scraper accepts it), written straight from the store's rows: the same
// series as Collect, without a registry's per-series allocations and sort.
func (c *Collector) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		var out io.Writer = w
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			defer gz.Close()
			out = gz
		}
		if err := c.WriteText(out); err != nil {
			c.log.Debug("exporter: write /metrics", "err", err)
		}
	})
}

// WriteText writes every series in the Prometheus text exposition format.
func (c *Collector) WriteText(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var last *family
	var buf []byte
	var err error
	c.series(func(f *family, v float64, lv ...string) {
		if err != nil {
			return
		}
		buf = buf[:0]
		if f != last {
			buf = append(buf, "# HELP "...)
			buf = append(buf, f.name...)
			buf = append(buf, ' ')
			buf = appendEscaped(buf, f.help, false)
			buf = append(buf, "\n# TYPE "...)
			buf = append(buf, f.name...)
			buf = append(buf, " gauge\n"...)
			last = f
		}
		buf = append(buf, f.name...)
		if len(lv) > 0 {
			buf = append(buf, '{')
			for i, l := range f.labels {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, l...)
				buf = append(buf, `="`...)
				buf = appendEscaped(buf, lv[i], true)
				buf = append(buf, '"')
			}
			buf = append(buf, '}')
		}
		buf = append(buf, ' ')
		buf = appendValue(buf, v)
		buf = append(buf, '\n')
		_, err = bw.Write(buf)
	})
	if err != nil {
		return err
	}
	for _, extra := range c.o.Extra {
		if err := extra(bw); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// appendEscaped escapes as the text format wants: backslash and newline,
// and in label values the double quote.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '\\':
			b = append(b, `\\`...)
		case ch == '\n':
			b = append(b, `\n`...)
		case ch == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, ch)
		}
	}
	return b
}

func appendValue(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
