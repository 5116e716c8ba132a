package tlscert

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// FileCert is a certificate a site brings as PEM files. It is reloaded
// when either file changes (checked at most once a second, at handshakes);
// when the files disappear or stop parsing, the last good certificate is
// kept and the failure logged.
type FileCert struct {
	certPath, keyPath string
	log               *slog.Logger
	now               func() time.Time

	mu       sync.Mutex
	cert     *tls.Certificate
	stamp    [2]time.Time // modification times of the files loaded
	checked  time.Time
	lastFail string
}

// LoadFileCert loads a certificate and key; it fails if they do not load
// now, so a bad path is found at start-up.
func LoadFileCert(certPath, keyPath string, log *slog.Logger) (*FileCert, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fc := &FileCert{certPath: certPath, keyPath: keyPath, log: log, now: time.Now}
	if err := fc.load(); err != nil {
		return nil, err
	}
	return fc, nil
}

func (fc *FileCert) load() error {
	cert, err := tls.LoadX509KeyPair(fc.certPath, fc.keyPath)
	if err != nil {
		return fmt.Errorf("load certificate %s / %s: %w", fc.certPath, fc.keyPath, err)
	}
	var stamp [2]time.Time
	for i, p := range []string{fc.certPath, fc.keyPath} {
		if fi, err := os.Stat(p); err == nil {
			stamp[i] = fi.ModTime()
		}
	}
	fc.cert, fc.stamp = &cert, stamp
	return nil
}

// Certificate returns the current certificate, reloading it if its files
// changed since they were last read.
func (fc *FileCert) Certificate() *tls.Certificate {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	now := fc.now()
	if now.Sub(fc.checked) < time.Second {
		return fc.cert
	}
	fc.checked = now
	changed := false
	for i, p := range []string{fc.certPath, fc.keyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			fc.fail(fmt.Sprintf("certificate file %s: %v; keeping the loaded one", p, err))
			return fc.cert
		}
		if !fi.ModTime().Equal(fc.stamp[i]) {
			changed = true
		}
	}
	if changed {
		if err := fc.load(); err != nil {
			fc.fail(err.Error() + "; keeping the loaded one")
		} else {
			fc.lastFail = ""
			fc.log.Info("certificate reloaded", "cert", fc.certPath)
		}
	}
	return fc.cert
}

// fail logs a reload failure once until it changes.
func (fc *FileCert) fail(msg string) {
	if msg != fc.lastFail {
		fc.lastFail = msg
		fc.log.Warn(msg)
	}
}
