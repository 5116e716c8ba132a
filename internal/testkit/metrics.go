package testkit

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric reads go through a Gatherer (a test's own registry, or Scrape of a
// node's /metrics), so one set of helpers serves in-process collectors and
// running nodes alike. For a single collector, use testutil.ToFloat64.

// Sum returns the sum of the samples of the metric family name in g whose
// labels include the given name/value pairs; 0 when none does (a series
// not yet created reads as zero, as it would in PromQL with `or vector(0)`).
func Sum(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	var sum float64
	for _, m := range matching(t, g, name, labels) {
		sum += sampleValue(m)
	}
	return sum
}

// Count returns how many series of name in g have labels that include the
// given name/value pairs.
func Count(t testing.TB, g prometheus.Gatherer, name string, labels ...string) int {
	t.Helper()
	return len(matching(t, g, name, labels))
}

// Value returns the value of the series of name in g whose labels are
// exactly the given name/value pairs, and fails the test when there is none.
func Value(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	for _, m := range matching(t, g, name, labels) {
		if 2*len(m.GetLabel()) == len(labels) {
			return sampleValue(m)
		}
	}
	t.Fatalf("no series %s%s", name, labelString(labels))
	return 0
}

// Series counts every series g exports.
func Series(t testing.TB, g prometheus.Gatherer) int {
	t.Helper()
	n, err := testutil.GatherAndCount(g)
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return n
}

// Scrape fetches the text exposition at url (a node's admin /metrics) and
// returns it as a Gatherer for Sum, Count and Value.
func Scrape(t testing.TB, url string) prometheus.Gatherer {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: %d %q", url, resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		out := make([]*dto.MetricFamily, 0, len(fams))
		for _, mf := range fams {
			out = append(out, mf)
		}
		return out, nil
	})
}

// matching returns the series of name in g whose labels include pairs.
func matching(t testing.TB, g prometheus.Gatherer, name string, pairs []string) []*dto.Metric {
	t.Helper()
	if len(pairs)%2 != 0 {
		t.Fatalf("%s: labels %q are not name/value pairs", name, pairs)
	}
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, pairs) {
				out = append(out, m)
			}
		}
	}
	return out
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			found = found || lp.GetName() == pairs[i] && lp.GetValue() == pairs[i+1]
		}
		if !found {
			return false
		}
	}
	return true
}

// sampleValue is a counter's, gauge's or untyped metric's value (a scrape
// without TYPE lines yields untyped ones).
func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	default:
		return m.GetUntyped().GetValue()
	}
}

func labelString(pairs []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", pairs[i], pairs[i+1])
	}
	b.WriteByte('}')
	return b.String()
}
