package helmrender

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// The errors of remote charts.
var (
	// ErrRemoteRefused means a request names a chart repository while
	// fetching charts is not allowed.
	ErrRemoteRefused = errors.New("charts from chart repositories are not fetched unless allowed (set layers.app.helm.allow_remote_charts, or vendor the chart into the repository)")
	// ErrOCI means a request names an OCI registry, which driftd does
	// not fetch from.
	ErrOCI = errors.New("charts from OCI registries are not supported: vendor the chart into the repository")
	// ErrDigest means a downloaded chart archive does not match the
	// digest of the repository index.
	ErrDigest = errors.New("does not match the digest of the repository index")
)

// sha256Hex matches a digest as repository indexes give it.
var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// fetchChart resolves req's version constraint with its repository's index,
// downloads the chart archive, checks its digest and loads it in memory.
// This, and nothing else in the package, uses the network.
func fetchChart(ctx context.Context, req Request, opts Options) (*chart.Chart, error) {
	if !opts.AllowRemote {
		return nil, ErrRemoteRefused
	}
	base, err := repoURL(req.RepoURL)
	if err != nil {
		return nil, err
	}
	client := httpClient(opts.HTTPTimeout)
	indexURL := base.JoinPath("index.yaml").String()
	data, err := get(ctx, client, indexURL, opts.MaxIndexSize)
	if err != nil {
		return nil, fmt.Errorf("repository index: %w", err)
	}
	if err := checkAliases(data); err != nil {
		return nil, fmt.Errorf("repository index: %w", err)
	}
	var idx repo.IndexFile
	if err := sigsyaml.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("repository index: %s", quotedValue.ReplaceAllString(err.Error(), "(value)"))
	}
	idx.SortEntries()
	cv, err := idx.Get(req.Chart, req.Version)
	if err != nil {
		return nil, fmt.Errorf("repository index: %w", err)
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("repository index: chart version %s has no URL", display(cv.Version))
	}
	chartURL, err := repo.ResolveReferenceURL(base.String(), cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("repository index: chart URL %s: %w", display(cv.URLs[0]), err)
	}
	if u, err := url.Parse(chartURL); err != nil || u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("repository index: chart URL %s: only http and https are fetched", display(chartURL))
	}
	digest := strings.ToLower(strings.TrimPrefix(cv.Digest, "sha256:"))
	if digest != "" && !sha256Hex.MatchString(digest) {
		return nil, fmt.Errorf("repository index: chart %s %s: malformed digest", display(req.Chart), display(cv.Version))
	}
	archiveData := cached(opts.CacheDir, digest)
	if archiveData == nil {
		if archiveData, err = get(ctx, client, chartURL, opts.MaxChartSize); err != nil {
			return nil, fmt.Errorf("chart %s %s: %w", display(req.Chart), display(cv.Version), err)
		}
		if digest != "" {
			sum := sha256.Sum256(archiveData)
			if hex.EncodeToString(sum[:]) != digest {
				return nil, fmt.Errorf("chart %s %s: archive %w", display(req.Chart), display(cv.Version), ErrDigest)
			}
			store(opts.CacheDir, digest, archiveData)
		}
	}
	b := newBudget(opts.MaxChartSize)
	files, err := expandArchive(archiveData, b)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", display(req.Chart), display(cv.Version), err)
	}
	c, err := loadFiles(files, b)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: %w", display(req.Chart), display(cv.Version), err)
	}
	return c, nil
}

// repoURL checks a chart repository URL: http or https only.
func repoURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("repository URL %s: %w", display(s), err)
	case strings.EqualFold(u.Scheme, "oci"):
		return nil, ErrOCI
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("repository URL %s: only http and https chart repositories are supported", display(s))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// httpClient returns a client whose every exchange, body included, ends
// within timeout, and which follows redirects to http(s) only.
func httpClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                  http.ProxyFromEnvironment,
			DialContext:            (&net.Dialer{Timeout: timeout}).DialContext,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: 64 << 10,
			DisableKeepAlives:      true,
			ForceAttemptHTTP2:      true,
		},
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %s: only http and https are fetched", display(r.URL.Scheme))
			}
			return nil
		},
	}
}

// get fetches u, reading at most max bytes of body.
func get(ctx context.Context, client *http.Client, u string, max int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "driftd")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", display(redact(u)), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", display(redact(u)), resp.Status)
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("GET %s: body %w of %d bytes", display(redact(u)), ErrTooLarge, max)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", display(redact(u)), unwrapURLError(err))
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("GET %s: body %w of %d bytes", display(redact(u)), ErrTooLarge, max)
	}
	return data, nil
}

// redact drops the user information of a URL for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.Redacted()
}

// unwrapURLError drops the *url.Error layer, whose message repeats the URL
// (with its user information).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// cached returns the archive with the given digest from dir, or nil.
func cached(dir, digest string) []byte {
	if dir == "" || !sha256Hex.MatchString(digest) {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(dir, digest+".tgz"))
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != digest {
		return nil
	}
	return data
}

// store writes an archive to dir under its digest, atomically; a failure
// only costs a download next time.
func store(dir, digest string, data []byte) {
	if dir == "" || !sha256Hex.MatchString(digest) {
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	f, err := os.CreateTemp(dir, ".chart-*")
	if err != nil {
		return
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), filepath.Join(dir, digest+".tgz")) != nil {
		os.Remove(f.Name())
	}
}
