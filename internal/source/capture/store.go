package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// file is one Capture file: its name (a path relative to the directory,
// or the blob name) and size.
type file struct {
	Name string
	Size int64
}

// store lists and opens Capture files: a local directory or a blob
// container.
type store interface {
	// List returns the files in name order, which for Capture's naming
	// ({Namespace}/{EventHub}/{PartitionId}/{Year}/.../{Second}) is time
	// order within a partition.
	List(ctx context.Context) ([]file, error)
	Open(ctx context.Context, f file) (io.ReadCloser, error)
	// Describe names the place, for logs.
	Describe() string
}

type dirStore struct {
	root string
	// missingOK: a directory that does not exist yet holds no files
	// (following: Capture has not written anything yet).
	missingOK bool
}

func (d dirStore) Describe() string { return d.root }

func (d dirStore) List(_ context.Context) ([]file, error) {
	var out []file
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".avro") {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(d.root, p)
		out = append(out, file{Name: filepath.ToSlash(rel), Size: info.Size()})
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) && d.missingOK {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.root, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (d dirStore) Open(_ context.Context, f file) (io.ReadCloser, error) {
	return os.Open(filepath.Join(d.root, filepath.FromSlash(f.Name)))
}

type blobStore struct {
	cc     *container.Client
	prefix string
	desc   string
}

func openBlobStore(cfg Config) (*blobStore, error) {
	var (
		cc  *container.Client
		err error
	)
	if cfg.StorageConnectionString.IsSet() {
		cc, err = container.NewClientFromConnectionString(cfg.StorageConnectionString.Value(), cfg.Container, nil)
	} else {
		cred, cerr := azidentity.NewDefaultAzureCredential(nil)
		if cerr != nil {
			return nil, fmt.Errorf("azure credential: %w", cerr)
		}
		cc, err = container.NewClient(strings.TrimRight(cfg.StorageAccountURL, "/")+"/"+cfg.Container, cred, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("capture container %q: %w", cfg.Container, err)
	}
	return &blobStore{cc: cc, prefix: cfg.Prefix, desc: "container " + cfg.Container + "/" + cfg.Prefix}, nil
}

func (b *blobStore) Describe() string { return b.desc }

func (b *blobStore) List(ctx context.Context) ([]file, error) {
	var out []file
	pager := b.cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &b.prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", b.desc, err)
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name == nil || !strings.HasSuffix(*it.Name, ".avro") {
				continue
			}
			var size int64
			if it.Properties != nil && it.Properties.ContentLength != nil {
				size = *it.Properties.ContentLength
			}
			out = append(out, file{Name: *it.Name, Size: size})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (b *blobStore) Open(ctx context.Context, f file) (io.ReadCloser, error) {
	resp, err := b.cc.NewBlobClient(f.Name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", f.Name, err)
	}
	// The retry reader resumes an interrupted download where it broke.
	return resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 5}), nil
}
