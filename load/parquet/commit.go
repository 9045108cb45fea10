package parquet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"closedloop/load"
)

// Manifest is DIR/_manifests/<runid>.json: what one committed run changed.
type Manifest struct {
	RunID       string          `json:"run_id"`
	RangeFrom   string          `json:"range_from"` // YYYY-MM-DD
	RangeTo     string          `json:"range_to"`
	CommittedAt time.Time       `json:"committed_at"`
	Tables      []TableManifest `json:"tables"` // every contract table, in load order
}

// TableManifest is what one run changed in one table.
type TableManifest struct {
	Name         string      `json:"name"`
	Mode         string      `json:"mode"`  // replace_all, replace_range or append
	Rows         int64       `json:"rows"`  // rows of the files written
	Bytes        int64       `json:"bytes"` // size of the files written
	FilesWritten []FileEntry `json:"files_written"`
	FilesRemoved []string    `json:"files_removed"`
	// FilesRewritten are older files this run rewrote in place (same name): partitions
	// RemapPersons re-pointed, files of an Append table given the columns a newer
	// contract added.
	FilesRewritten []FileEntry `json:"files_rewritten,omitempty"`
	RowsRemapped   int64       `json:"rows_remapped,omitempty"`
}

// ReadManifest reads the manifest of run runID in the warehouse folder dir.
func ReadManifest(dir, runID string) (*Manifest, error) {
	b, err := os.ReadFile(manifestPath(dir, runID))
	if err != nil {
		return nil, fmt.Errorf("parquet: manifest of run %s: %w", runID, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parquet: manifest of run %s: %w", runID, err)
	}
	return &m, nil
}

func manifestPath(dir, runID string) string {
	return filepath.Join(dir, manifestDir, runID+".json")
}

func modeName(m load.Mode) string {
	switch m {
	case load.ReplaceAll:
		return "replace_all"
	case load.ReplaceRange:
		return "replace_range"
	case load.Append:
		return "append"
	}
	return fmt.Sprint(int(m))
}

// Operation kinds of a commit plan; every one can be repeated after a crash.
const (
	opPublish = "publish" // rename the staged file over DIR/path (skipped once done)
	opRemove  = "remove"  // remove DIR/path (skipped if gone)
	opPrune   = "prune"   // remove the folder DIR/path if it is empty
)

type op struct {
	Kind string `json:"op"`
	Path string `json:"path"` // relative to DIR, forward slashes
}

// journal is a Commit's plan, written to the staging folder before the first rename.
type journal struct {
	Manifest Manifest `json:"manifest"`
	Ops      []op     `json:"ops"`
}

func readJournal(staging string) (*journal, error) {
	b, err := os.ReadFile(filepath.Join(staging, journalName))
	if err != nil {
		return nil, err
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(staging, journalName), err)
	}
	return &j, nil
}

// existing is one committed file of a table.
type existing struct {
	rel         string // relative to DIR, forward slashes
	day         int32
	partitioned bool // in a day=YYYY-MM-DD folder
	placeholder bool // the zero-row file of a table without rows
}

// list returns the committed Parquet files of table: at its root and in its day
// partitions. Other files and folders are left alone.
func list(dir, table string) ([]existing, error) {
	entries, err := os.ReadDir(filepath.Join(dir, table))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []existing
	for _, e := range entries {
		name := e.Name()
		switch {
		case !e.IsDir() && isDataFile(name):
			out = append(out, existing{rel: table + "/" + name, placeholder: name == placeholderName})
		case e.IsDir() && strings.HasPrefix(name, dayKey+"="):
			t, err := time.Parse(time.DateOnly, strings.TrimPrefix(name, dayKey+"="))
			if err != nil {
				continue
			}
			files, err := os.ReadDir(filepath.Join(dir, table, name))
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				if !f.IsDir() && isDataFile(f.Name()) {
					out = append(out, existing{rel: table + "/" + name + "/" + f.Name(), day: dayOf(t), partitioned: true})
				}
			}
		}
	}
	return out, nil
}

func isDataFile(name string) bool {
	return strings.HasSuffix(name, ".parquet") && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_")
}

// Commit publishes the run: it plans every rename and removal, writes the plan to the
// staging folder, carries it out, writes the manifest and removes the staging folder.
// See the package documentation for what readers see meanwhile.
func (l *Loader) Commit(ctx context.Context) error {
	if err := l.usable(); err != nil {
		return err
	}
	if l.failed != nil {
		return fmt.Errorf("parquet: not committing run %s, a step failed: %w", l.runID, l.failed)
	}
	j, err := l.plan(ctx)
	if err != nil {
		return err
	}
	if err := syncTree(l.staging); err != nil {
		return fmt.Errorf("parquet: sync the staging folder %s: %w", l.staging, err)
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("parquet: commit plan: %w", err)
	}
	if err := writeFileSync(filepath.Join(l.staging, journalName), b); err != nil {
		return fmt.Errorf("parquet: write the commit plan to %s: %w", l.staging, err)
	}
	if err := syncDir(l.staging); err != nil {
		return fmt.Errorf("parquet: write the commit plan to %s: %w", l.staging, err)
	}
	l.journaled = true
	if err := apply(context.WithoutCancel(ctx), l.cfg.Dir, l.staging, j); err != nil {
		return fmt.Errorf("parquet: commit run %s: %w; the next Open finishes the commit from %s", l.runID, err, filepath.Join(l.staging, journalName))
	}
	l.committed = true
	var rows int64
	for _, t := range j.Manifest.Tables {
		rows += t.Rows
	}
	l.log.Debug("parquet run committed", "run_id", l.runID, "rows", rows, "manifest", manifestPath(l.cfg.Dir, l.runID))
	return nil
}

// plan lists, per table, the files to publish and to remove, in the order that keeps
// each partition's window short: per partition, new files first, then the old ones.
// It stages the zero-row file of every table that would end up without rows.
func (l *Loader) plan(ctx context.Context) (*journal, error) {
	j := &journal{Manifest: Manifest{RunID: l.runID, RangeFrom: dayString(l.from), RangeTo: dayString(l.to),
		CommittedAt: time.Now().UTC().Truncate(time.Microsecond)}}
	for _, spec := range load.Tables {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		have, err := list(l.cfg.Dir, spec.Name)
		if err != nil {
			return nil, fmt.Errorf("parquet: %s: list its files: %w", spec.Name, err)
		}
		written, loaded := l.tables[spec.Name]
		tm := TableManifest{Name: spec.Name, Mode: modeName(spec.Mode), FilesWritten: []FileEntry{}, FilesRemoved: []string{}}
		var remove []string
		kept := 0 // committed files with rows that stay
		var placeholders []string
		for _, e := range have {
			switch {
			case e.placeholder:
				placeholders = append(placeholders, e.rel)
			case loaded && spec.Mode == load.ReplaceAll && !e.partitioned:
				remove = append(remove, e.rel)
			case loaded && spec.Mode == load.ReplaceRange && e.partitioned && e.day >= l.from && e.day <= l.to:
				remove = append(remove, e.rel)
			default:
				kept++
			}
		}
		publish := append([]FileEntry{}, written...)
		if kept+len(written) > 0 {
			remove = append(remove, placeholders...)
		} else if len(placeholders) == 0 {
			w, err := l.create(spec.Name, spec.Name+"/"+placeholderName, spec.Schema)
			if err != nil {
				return nil, err
			}
			f, err := w.finish()
			if err != nil {
				return nil, err
			}
			publish = append(publish, f)
		}
		tm.FilesWritten = publish
		for _, f := range publish {
			tm.Rows += f.Rows
			tm.Bytes += f.Bytes
		}
		tm.FilesRemoved = append(tm.FilesRemoved, remove...)
		var rewritten []string
		for rel, r := range l.remapped {
			if strings.HasPrefix(rel, spec.Name+"/") {
				tm.FilesRewritten = append(tm.FilesRewritten, r.FileEntry)
				tm.RowsRemapped += r.changed
				rewritten = append(rewritten, rel)
			}
		}
		for rel, f := range l.migrated {
			if strings.HasPrefix(rel, spec.Name+"/") {
				tm.FilesRewritten = append(tm.FilesRewritten, f)
				rewritten = append(rewritten, rel)
			}
		}
		slices.SortFunc(tm.FilesRewritten, func(a, b FileEntry) int { return strings.Compare(a.Path, b.Path) })
		j.Ops = append(j.Ops, tableOps(publish, rewritten, remove)...)
		j.Manifest.Tables = append(j.Manifest.Tables, tm)
	}
	return j, nil
}

// tableOps orders one table's operations folder by folder: publications, removals,
// then the folder itself if a day partition is left empty.
func tableOps(publish []FileEntry, rewritten, remove []string) []op {
	byDir := map[string][]op{}
	for _, f := range publish {
		byDir[path.Dir(f.Path)] = append(byDir[path.Dir(f.Path)], op{opPublish, f.Path})
	}
	for _, p := range rewritten {
		byDir[path.Dir(p)] = append(byDir[path.Dir(p)], op{opPublish, p})
	}
	for _, p := range remove {
		byDir[path.Dir(p)] = append(byDir[path.Dir(p)], op{opRemove, p})
	}
	dirs := make([]string, 0, len(byDir))
	for d := range byDir {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	var out []op
	for _, d := range dirs {
		ops := byDir[d]
		slices.SortStableFunc(ops, func(a, b op) int {
			if a.Kind != b.Kind {
				if a.Kind == opPublish {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Path, b.Path)
		})
		out = append(out, ops...)
		if strings.HasPrefix(path.Base(d), dayKey+"=") {
			out = append(out, op{opPrune, d})
		}
	}
	return out
}

// apply carries out a commit plan in dir from the staging folder, then writes the
// manifest and removes the staging folder. Every step can be repeated: a plan half
// carried out by a crashed run is finished by the next Open.
func apply(ctx context.Context, dir, staging string, j *journal) error {
	if err := applyOps(ctx, dir, staging, j.Ops); err != nil {
		return err
	}
	return finish(dir, staging, j.Manifest)
}

// applyOps carries out the operations of a plan and syncs the folders they changed.
func applyOps(ctx context.Context, dir, staging string, ops []op) error {
	touched := map[string]struct{}{} // folders to sync
	for _, o := range ops {
		if err := ctx.Err(); err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(o.Path))
		switch o.Kind {
		case opPublish:
			src := filepath.Join(staging, filepath.FromSlash(o.Path))
			if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
				continue // published before a crash
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return fmt.Errorf("publish %s: %w", o.Path, err)
			}
			if err := os.Rename(src, target); errors.Is(err, syscall.EXDEV) {
				return fmt.Errorf("publish %s: %w: %s must be one file system, do not mount a table folder separately", o.Path, err, dir)
			} else if err != nil {
				return fmt.Errorf("publish %s: %w", o.Path, err)
			}
			touched[filepath.Dir(target)] = struct{}{}
			touched[filepath.Dir(filepath.Dir(target))] = struct{}{}
		case opRemove:
			if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove %s: %w", o.Path, err)
			}
			touched[filepath.Dir(target)] = struct{}{}
		case opPrune:
			if err := os.Remove(target); err == nil {
				touched[filepath.Dir(target)] = struct{}{}
			} else if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
				return fmt.Errorf("remove the empty partition %s: %w", o.Path, err)
			}
		default:
			return fmt.Errorf("unknown step %q in the commit plan", o.Kind)
		}
	}
	for d := range touched {
		if err := syncDir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sync %s: %w", d, err)
		}
	}
	return nil
}

// finish writes the manifest and removes the staging folder.
func finish(dir, staging string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	mdir := filepath.Join(dir, manifestDir)
	if err := os.MkdirAll(mdir, 0o755); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	tmp := filepath.Join(mdir, "."+m.RunID+".json.tmp")
	if err := writeFileSync(tmp, b); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := os.Rename(tmp, manifestPath(dir, m.RunID)); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := syncDir(mdir); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := os.RemoveAll(staging); err != nil {
		return fmt.Errorf("remove the staging folder %s: %w", staging, err)
	}
	return nil
}

// writeFileSync writes b to name and syncs it.
func writeFileSync(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes the entries of a folder durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncTree syncs every folder under root (the files were synced when written).
func syncTree(root string) error {
	return filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return syncDir(p)
		}
		return nil
	})
}
