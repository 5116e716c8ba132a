package main

import (
	"bufio"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tern-cdn/tern/origin"
)

// newClient is a keep-alive client for one edge.
func newClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConns:        4 * conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

var adminClient = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}}

// get fetches url with Host host ("" for none) and returns status and body.
func get(c *http.Client, url, host string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, b, err
}

// result is one client request.
type result struct {
	code        int // 0: transport error
	err         error
	corrupt     bool          // 200 with a wrong length or checksum
	dur         time.Duration // to the last body byte
	at          time.Duration // when it ended, since the start of its load run
	cacheStatus string
	ternError   string
	body        string // the first bytes of a non-200 body
}

// fetchObject asks edge (host:port) for object n with client c, checks
// the body against the expectation, and times the whole exchange up to
// the last body byte.
func fetchObject(ctx context.Context, c *http.Client, edgeAddr string, n uint64, buf []byte) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+edgeAddr+objPrefix+strconv.FormatUint(n, 10), nil)
	if err != nil {
		return result{err: err}
	}
	req.Host = siteHost
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err, dur: time.Since(start)}
	}
	defer resp.Body.Close()
	r := result{code: resp.StatusCode, cacheStatus: resp.Header.Get("Cache-Status"), ternError: resp.Header.Get(origin.ErrorHeader)}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		r.body = string(b)
		r.dur = time.Since(start)
		return r
	}
	crc := uint32(0)
	size := 0
	for {
		k, err := resp.Body.Read(buf)
		crc = crc32.Update(crc, castagnoli, buf[:k])
		size += k
		if err == io.EOF {
			break
		}
		if err != nil {
			r.err, r.code = err, 0
			r.dur = time.Since(start)
			return r
		}
	}
	r.dur = time.Since(start)
	if want := expect(n); size != want.size || crc != want.crc {
		r.corrupt = true
		r.err = fmt.Errorf("object %d: got %d bytes crc %08x, want %d bytes crc %08x", n, size, crc, want.size, want.crc)
	}
	return r
}

// zipfSeq is count object numbers drawn from Zipf(s, v=1) over objects
// [base, base+objects), with a fixed seed.
func zipfSeq(count, objects int, s float64, seed, base uint64) []uint64 {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	z := rand.NewZipf(r, s, 1, uint64(objects-1))
	out := make([]uint64, count)
	for i := range out {
		out[i] = base + z.Uint64()
	}
	return out
}

// loadStats sums up a load run.
type loadStats struct {
	requests  int
	ok        int
	errors    int // transport errors and non-200 answers
	corrupt   int
	codes     map[int]int // non-200 codes; 0 = transport error
	samples   []string    // the first few errors
	wall      time.Duration
	durs      []time.Duration // of 200s
	errTimes  []time.Duration // since start, of every error
	errIndex  []int
	cacheHits int // responses whose Cache-Status starts with the edge's hit
}

// loadOpts tune runLoad.
type loadOpts struct {
	conc int
	// rate, when > 0, paces request i to start no earlier than i/rate
	// seconds after the start.
	rate float64
	// onIssue, when set, is called with each request's index (from the
	// worker that issues it, before it does).
	onIssue func(i int)
	timeout time.Duration
}

// runLoad sends seq[i] to edge i mod len(edges), with opts.conc workers.
func runLoad(edges []string, clients []*http.Client, seq []uint64, o loadOpts) loadStats {
	if o.timeout == 0 {
		o.timeout = 10 * time.Second
	}
	st := loadStats{requests: len(seq), codes: map[int]int{}}
	results := make([]result, len(seq))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range o.conc {
		wg.Go(func() {
			buf := make([]byte, 64<<10)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(seq) {
					return
				}
				if o.rate > 0 {
					if d := time.Until(start.Add(time.Duration(float64(i) / o.rate * float64(time.Second)))); d > 0 {
						time.Sleep(d)
					}
				}
				if o.onIssue != nil {
					o.onIssue(i)
				}
				ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
				e := i % len(edges)
				r := fetchObject(ctx, clients[e], edges[e], seq[i], buf)
				cancel()
				r.at = time.Since(start)
				results[i] = r
			}
		})
	}
	wg.Wait()
	st.wall = time.Since(start)
	for i, r := range results {
		switch {
		case r.corrupt:
			st.corrupt++
			st.errors++
			if len(st.samples) < 5 {
				st.samples = append(st.samples, r.err.Error())
			}
		case r.err != nil || r.code != 200:
			st.errors++
			st.codes[r.code]++
			st.errTimes = append(st.errTimes, r.at)
			st.errIndex = append(st.errIndex, i)
			if len(st.samples) < 5 {
				msg := fmt.Sprintf("#%d object %d via %s: ", i, seq[i], edges[i%len(edges)])
				if r.err != nil {
					msg += r.err.Error()
				} else {
					msg += fmt.Sprintf("%d %q", r.code, strings.TrimSpace(r.body))
				}
				st.samples = append(st.samples, msg)
			}
		default:
			st.ok++
			st.durs = append(st.durs, r.dur)
		}
	}
	return st
}

func (s loadStats) codesString() string {
	if len(s.codes) == 0 {
		return "none"
	}
	var keys []int
	for k := range s.codes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		name := strconv.Itoa(k)
		if k == 0 {
			name = "transport"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, s.codes[k]))
	}
	return strings.Join(parts, " ")
}

// pct returns the p-th percentile (0..100) of ds (sorted in place).
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(p / 100 * float64(len(ds)-1))
	return ds[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

// metrics is one scrape: series ("name{labels}") → value.
type metrics map[string]float64

func scrape(admin string) (metrics, error) {
	resp, err := adminClient.Get("http://" + admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s/metrics: %s", admin, resp.Status)
	}
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			continue
		}
		m[l[:i]] = v
	}
	return m, sc.Err()
}

// sum adds the series of metric name that carry every label (k="v").
func (m metrics) sum(name string, labels ...string) float64 {
	var t float64
	for series, v := range m {
		if series != name && !strings.HasPrefix(series, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			k, val, _ := strings.Cut(l, "=")
			if !strings.Contains(series, k+`="`+val+`"`) {
				ok = false
				break
			}
		}
		if ok {
			t += v
		}
	}
	return t
}

// scrapeAll scrapes every admin address and sums metric name over them.
func scrapeAll(admins []string) ([]metrics, error) {
	var out []metrics
	for _, a := range admins {
		m, err := scrape(a)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func sumAll(ms []metrics, name string, labels ...string) float64 {
	var t float64
	for _, m := range ms {
		t += m.sum(name, labels...)
	}
	return t
}
