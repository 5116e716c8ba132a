// Package client calls the purge API, and holds the logic of the `tern
// purge` command (Command), which cmd/tern wires as a subcommand.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tern-cdn/tern/purge"
	"github.com/tern-cdn/tern/purge/api"
)

// Client calls one purge API.
type Client struct {
	// API is the base URL (http://127.0.0.1:8088).
	API   string
	Token string
	// HTTP defaults to a client with a 10s timeout.
	HTTP *http.Client
}

// APIError is an error answer of the API.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("purge API: %d: %s", e.Status, e.Message) }

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// Purge sends a purge; idempotencyKey, when set, makes a retry one purge.
func (c *Client) Purge(ctx context.Context, p purge.Purge, idempotencyKey string) (api.Accepted, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return api.Accepted{}, fmt.Errorf("encoding purge: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.API, "/")+"/v1/purge", bytes.NewReader(body))
	if err != nil {
		return api.Accepted{}, fmt.Errorf("purge request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	var acc api.Accepted
	return acc, c.do(req, http.StatusAccepted, &acc)
}

// Status asks which nodes applied a purge.
func (c *Client) Status(ctx context.Context, id string) (api.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.API, "/")+"/v1/purge/"+id, nil)
	if err != nil {
		return api.Status{}, fmt.Errorf("status request: %w", err)
	}
	var st api.Status
	return st, c.do(req, http.StatusOK, &st)
}

func (c *Client) do(req *http.Request, want int, into any) error {
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("purge API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("purge API: reading the answer: %w", err)
	}
	if resp.StatusCode != want {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return &APIError{Status: resp.StatusCode, Message: e.Error}
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("purge API: answer is not JSON: %w", err)
	}
	return nil
}

// Wait polls the status every interval until the purge is complete or ctx
// ends; progress, when not nil, sees every status read.
func (c *Client) Wait(ctx context.Context, id string, interval time.Duration, progress func(api.Status)) (api.Status, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := c.Status(ctx, id)
		if err == nil {
			if progress != nil {
				progress(st)
			}
			if st.Complete {
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return st, fmt.Errorf("waiting for purge %s: %w (last error: %v)", id, ctx.Err(), err)
			}
			return st, fmt.Errorf("waiting for purge %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}
