package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metrics is one scrape of a node's /metrics: a sample's name with its
// labels, as written, to its value.
type metrics map[string]float64

func scrape(ctx context.Context, admin string) (metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", admin, err)
	}
	defer resp.Body.Close()
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			m[line[:i]] = v
		}
	}
	return m, sc.Err()
}

// first is the value of the first sample whose name starts with prefix
// (a metric with one series per node).
func (m metrics) first(prefix string) float64 {
	for k, v := range m {
		if k == prefix || strings.HasPrefix(k, prefix+"{") {
			return v
		}
	}
	return 0
}

// sum adds every sample whose name starts with prefix.
func (m metrics) sum(prefix string) float64 {
	var s float64
	for k, v := range m {
		if k == prefix || strings.HasPrefix(k, prefix+"{") {
			s += v
		}
	}
	return s
}

// buckets are a histogram's cumulative counts by upper bound.
type buckets map[float64]float64

const latencyMetric = "tern_purge_accept_to_applied_seconds"

func (m metrics) buckets() buckets {
	b := buckets{}
	for k, v := range m {
		if !strings.HasPrefix(k, latencyMetric+"_bucket{") {
			continue
		}
		i := strings.Index(k, `le="`)
		if i < 0 {
			continue
		}
		le := k[i+4:]
		le = le[:strings.IndexByte(le, '"')]
		bound, err := strconv.ParseFloat(le, 64)
		if err != nil {
			continue
		}
		b[bound] += v
	}
	return b
}

// minus is the histogram of the observations between two scrapes.
func (b buckets) minus(before buckets) buckets {
	d := buckets{}
	for k, v := range b {
		d[k] = v - before[k]
	}
	return d
}

func (b buckets) add(o buckets) {
	for k, v := range o {
		b[k] += v
	}
}

// quantile interpolates linearly inside the bucket holding q, as
// Prometheus's histogram_quantile does; its precision is the bucket's.
func (b buckets) quantile(q float64) float64 {
	bounds := make([]float64, 0, len(b))
	for k := range b {
		bounds = append(bounds, k)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 || b[math.Inf(1)] == 0 {
		return math.NaN()
	}
	rank := q * b[math.Inf(1)]
	lower, prev := 0.0, 0.0
	for _, up := range bounds {
		if b[up] >= rank {
			if math.IsInf(up, 1) {
				return lower
			}
			return lower + (up-lower)*(rank-prev)/(b[up]-prev)
		}
		lower, prev = up, b[up]
	}
	return lower
}

func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }
