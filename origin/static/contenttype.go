package static

import (
	"mime"
	"path"
	"strings"
)

// fallbackTypes cover web types that a host's MIME tables may lack.
var fallbackTypes = map[string]string{
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".mp4":  "video/mp4",
	".svg":  "image/svg+xml",
	".webp": "image/webp",
}

// contentType returns the Content-Type for a file name by its extension, or
// "" when unknown (http.ServeContent then sniffs the content).
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ext == "" {
		return ""
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return fallbackTypes[ext]
}
