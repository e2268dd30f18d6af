package drills

import (
	"fmt"
	"github.com/drillhq/drill/internal/human"

	"github.com/drillhq/drill/plugins"
)

// preflight checks, before a restore of everything, that the restore point
// fits: within max_scratch_bytes and within the free space of the scratch
// filesystem. It uses the backup's own size where the backend knows it
// (RestorePoint.Size: a directory's file bytes, a snapshot's size, an
// archive's file size, which a compressed archive expands beyond). It
// returns the reason the drill cannot start, or "". Database backends
// restore into their server, not scratch, and are not checked here.
func preflight(desc *plugins.DescribeResponse, point plugins.RestorePoint, maxBytes int64, root string) string {
	if desc.Kind != plugins.KindFiles || point.Size <= 0 {
		return ""
	}
	noun := desc.PointNoun
	if noun == "" {
		noun = "restore point"
	}
	if maxBytes > 0 && point.Size > maxBytes {
		return fmt.Sprintf("%s %s is %s, more than max_scratch_bytes (%s): nothing was restored; raise max_scratch_bytes or restore a sample (sample: {percent: N})",
			noun, point.ID, human.Size(point.Size), human.Size(maxBytes))
	}
	free, err := freeBytes(root)
	if err != nil || free < 0 {
		return ""
	}
	if point.Size > free {
		return fmt.Sprintf("%s %s is %s, but the scratch filesystem at %s has %s free: nothing was restored; free space there or point state_dir at a larger filesystem",
			noun, point.ID, human.Size(point.Size), root, human.Size(free))
	}
	return ""
}

// FreeBytes returns the free space of the filesystem holding path, for
// callers that size a drill before it runs (drill init).
func FreeBytes(path string) (int64, error) { return freeBytes(path) }
