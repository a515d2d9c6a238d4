"""The 354 visual features of a segment, computed on frames sampled at a fixed rate.

Per sampled RGB frame (default 256 px wide, see docs/features.md for exact definitions):

* 6 x 16-bin histograms (each sums to 1): R, G, B, gray (BT.601), Sobel gradient magnitude
  (|grad| / 8 in intensity levels per pixel, bins of 8 over [0, 128), larger values in the
  last bin) and HSV saturation.
* LBP, 128 bins: 8-neighbour local binary pattern, P=8, R=1 on the square 3x3 neighbourhood
  (no interpolation), "default" (non-uniform, non-rotation-invariant) codes 0..255, folded to
  128 bins as ``code // 2`` (i.e. the comparison with the top-left neighbour is dropped).
* HOG, 128 values: gradient orientations (unsigned, 8 bins of 22.5 degrees) weighted by Sobel
  magnitude and summed over a 4 x 4 grid of cells covering the frame; the 128-vector is L2
  normalised as a whole (one "block"). Index = (row * 4 + col) * 8 + orientation.

The segment's value for these is the mean over its frames. Optical flow (Farneback) is computed
between consecutive sampled frames on quarter-size gray frames, and summarised per segment by the
magnitude-weighted circular mean and circular standard deviation of the flow direction, pooled
over all pixels of all frame pairs ending in the segment. Segments with (almost) no motion get
0 for both, so a static picture is exactly 0.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from features.definitions import HOG_GRID, HOG_ORIENTATIONS, N_VISUAL

N_FRAME = N_VISUAL - 2  # 352 per-frame values (everything but the 2 flow values)
HIST_BINS = 16
GRADIENT_RANGE = 128.0  # histogram range of |grad| / 8, in intensity levels per pixel
SOBEL_SCALE = 1.0 / 8.0  # 3x3 Sobel sums 8 weighted differences: /8 gives levels per pixel
FLOW_DOWNSCALE = 4  # flow runs on gray frames 1/4 of the sampled size (64 x 36 by default)
# Below this mean flow magnitude (pixels of the flow frame per frame pair) a segment is
# considered static and its flow direction undefined -> both flow values 0.
MIN_FLOW = 0.01
_MIN_RESULTANT = 1e-6  # caps flow_angle_std at sqrt(-2 ln 1e-6) = 5.26 rad

# Small pyramid and window: the frames are tiny and 0.5 s apart; this costs ~0.2 ms per pair
# (the OpenCV defaults on 128 x 72 frames cost 1.6 ms and dominated the visual time).
_FARNEBACK = dict(
    pyr_scale=0.5, levels=2, winsize=9, iterations=2, poly_n=5, poly_sigma=1.1, flags=0
)


class VisualFeatureError(ValueError):
    """Raised for frames the visual extractor cannot work with."""


def _hist(image: np.ndarray, channel: int = 0, upper: float = 256.0) -> np.ndarray:
    """16-bin histogram of one channel over [0, upper), as shares of all pixels."""
    h = cv2.calcHist([image], [channel], None, [HIST_BINS], [0.0, upper]).ravel()
    return h.astype(np.float64) / (image.shape[0] * image.shape[1])


def _lbp_histogram(gray: np.ndarray) -> np.ndarray:
    """128-bin histogram of (P=8, R=1, default) LBP codes // 2 over interior pixels.

    Bits (LSB first) compare, with >=, the neighbours top-left, top, top-right, right,
    bottom-right, bottom, bottom-left, left against the centre. code // 2 drops bit 0, so we
    only build bits 1..7.
    """
    g = gray
    h, w = g.shape
    c = g[1:-1, 1:-1]
    neighbours = (
        g[0 : h - 2, 1 : w - 1],  # top            -> bit 1
        g[0 : h - 2, 2:w],  # top-right           -> bit 2
        g[1 : h - 1, 2:w],  # right               -> bit 3
        g[2:h, 2:w],  # bottom-right              -> bit 4
        g[2:h, 1 : w - 1],  # bottom              -> bit 5
        g[2:h, 0 : w - 2],  # bottom-left         -> bit 6
        g[1 : h - 1, 0 : w - 2],  # left          -> bit 7
    )
    # OpenCV on the slices (no copies): compare gives 255/0, masked to the bit. Same codes as
    # numpy's (n >= c) << bit, in half the time (7 x 3 passes over the frame either way).
    code = np.zeros(c.shape, dtype=np.uint8)
    for bit, n in enumerate(neighbours):
        mask = cv2.bitwise_and(cv2.compare(n, c, cv2.CMP_GE), 1 << bit)
        cv2.bitwise_or(code, mask, dst=code)
    counts = cv2.calcHist([code], [0], None, [128], [0.0, 128.0]).ravel()  # exact: < 2^24
    return counts.astype(np.float64) / c.size


class VisualExtractor:
    """Turns a stream of equally spaced RGB frames into per-segment visual feature vectors.

    Keeps the previous frame between segments so that the flow of the pair that crosses a
    segment boundary counts for the later segment.
    """

    def __init__(self) -> None:
        self._prev_small: np.ndarray | None = None
        self._cells: dict[tuple[int, int], np.ndarray] = {}

    def reset(self) -> None:
        self._prev_small = None

    def _cell_index(self, h: int, w: int) -> np.ndarray:
        key = (h, w)
        if key not in self._cells:
            rows = (np.arange(h) * HOG_GRID // h).astype(np.int32)
            cols = (np.arange(w) * HOG_GRID // w).astype(np.int32)
            cell = rows[:, None] * HOG_GRID + cols[None, :]
            self._cells[key] = (cell * HOG_ORIENTATIONS).ravel().astype(np.intp)
        return self._cells[key]

    def frame_features(self, rgb: np.ndarray) -> np.ndarray:
        """352 per-frame values (histograms, LBP, HOG) of one HxWx3 uint8 RGB frame."""
        return self._frame(rgb)[0]

    def _frame(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise VisualFeatureError(f"expected an HxWx3 uint8 RGB frame, got {rgb.shape}")
        if rgb.shape[0] < 8 or rgb.shape[1] < 8:
            raise VisualFeatureError(f"frame too small for visual features: {rgb.shape}")
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3, scale=SOBEL_SCALE)
        gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3, scale=SOBEL_SCALE)
        mag, ang = cv2.cartToPolar(gx, gy, angleInDegrees=True)
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)

        out = np.empty(N_FRAME, dtype=np.float64)
        for i in range(3):
            out[i * 16 : (i + 1) * 16] = _hist(rgb, i)
        out[48:64] = _hist(gray)
        grad = _hist(mag, 0, GRADIENT_RANGE)
        grad[-1] += 1.0 - grad.sum()  # calcHist ignores values >= upper: they go in the last bin
        out[64:80] = grad
        out[80:96] = _hist(hsv, 1)
        out[96:224] = _lbp_histogram(gray)

        # HOG: unsigned orientation bin (angle mod 180) + cell offset, magnitude-weighted.
        orient = (ang.ravel() * np.float32(HOG_ORIENTATIONS / 180.0)).astype(np.intp)
        orient &= HOG_ORIENTATIONS - 1  # == % 8 (power of two)
        orient += self._cell_index(*gray.shape)
        # float64 weights + intp indices: bincount's fast path (3x faster than float32/int32)
        hog = np.bincount(orient, weights=mag.ravel().astype(np.float64), minlength=128)
        norm = math.sqrt(float(hog @ hog))
        out[224:352] = hog / norm if norm > 1e-6 else 0.0
        return out, gray

    def flow_sums(self, gray: np.ndarray) -> tuple[float, float, float, int] | None:
        """Farneback flow from the previous frame to this gray frame: (sum dx, sum dy, sum |f|, n).

        Returns None for the very first frame (no previous frame).
        """
        small = cv2.resize(
            gray,
            (max(8, gray.shape[1] // FLOW_DOWNSCALE), max(8, gray.shape[0] // FLOW_DOWNSCALE)),
            interpolation=cv2.INTER_AREA,
        )
        prev, self._prev_small = self._prev_small, small
        if prev is None or prev.shape != small.shape:
            return None
        flow = cv2.calcOpticalFlowFarneback(prev, small, None, **_FARNEBACK)
        fx, fy = flow[:, :, 0], flow[:, :, 1]
        mag = cv2.magnitude(fx, fy)
        return float(fx.sum()), float(fy.sum()), float(mag.sum()), int(mag.size)

    def segment_features(self, frames: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """354 float32 values for one segment's frames (N x H x W x 3 uint8, N >= 0).

        No frames gives zeros.
        """
        if len(frames) == 0:
            return np.zeros(N_VISUAL, dtype=np.float32)
        acc = np.zeros(N_FRAME, dtype=np.float64)
        sx = sy = smag = 0.0
        npix = 0
        for rgb in frames:
            values, gray = self._frame(rgb)
            acc += values
            sums = self.flow_sums(gray)
            if sums is not None:
                sx, sy, smag, npix = sx + sums[0], sy + sums[1], smag + sums[2], npix + sums[3]
        out = np.empty(N_VISUAL, dtype=np.float32)
        out[:N_FRAME] = acc / len(frames)
        out[N_FRAME:] = flow_direction_stats(sx, sy, smag, npix)
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def flow_direction_stats(
    sum_dx: float, sum_dy: float, sum_mag: float, n: int
) -> tuple[float, float]:
    """(circular mean, circular std) of flow direction, weighted by flow magnitude.

    With unit vectors u_i of the flow at each pixel and magnitudes m_i: the mean direction is
    atan2(sum m_i u_i) = atan2(sum dy, sum dx) (image axes: x right, y down), the mean resultant
    length R = |sum m_i u_i| / sum m_i and the circular std sqrt(-2 ln R). A (nearly) static
    segment (mean magnitude < MIN_FLOW px) gives (0, 0).
    """
    if n == 0 or sum_mag / n < MIN_FLOW:
        return 0.0, 0.0
    resultant = math.hypot(sum_dx, sum_dy) / sum_mag
    resultant = min(max(resultant, _MIN_RESULTANT), 1.0)
    return math.atan2(sum_dy, sum_dx), math.sqrt(-2.0 * math.log(resultant))


__all__ = ["VisualExtractor", "VisualFeatureError", "flow_direction_stats"]
