"""Plain-numpy references of the formulas, written for clarity and independent of the engine."""

import math

import numpy as np

T_LEGACY = 17.5 * np.pi / 18


def pixel_centres(width, height, extent):
    s = (np.arange(width) + 0.5) / width * (2 * np.pi) - np.pi
    t = extent - (np.arange(height) + 0.5) / height * (2 * extent)
    return np.meshgrid(s, t)


def transverse_latlon(width, height):
    """The accurate formulas for the original script's (transverse) aspect."""
    s, t = pixel_centres(width, height, T_LEGACY)
    return -np.arcsin(np.sin(s) / np.cosh(t)), np.arctan2(np.sinh(t), np.cos(s))


def equirect_coords(lat, lon, in_w, in_h):
    """Continuous input pixel coordinates (x, y) of an equirectangular input."""
    return (lon + np.pi) / (2 * np.pi) * in_w, (np.pi / 2 - lat) / np.pi * in_h


def mercator_coords(lat, lon, in_w, in_h, limit_deg):
    top = math.log(math.tan(math.pi / 4 + math.radians(limit_deg) / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(np.tan(np.pi / 4 + lat / 2))
    return (lon + np.pi) / (2 * np.pi) * in_w, (top - y) / (2 * top) * in_h


def lut_from_coords(x, y, in_w, in_h, mercator_input=False):
    """Floor, wrap columns, clamp (equirectangular) or mark (Mercator) rows: the LUT rules."""
    dtype = np.uint16 if max(in_w, in_h) <= 65535 else np.uint32
    missing = np.iinfo(dtype).max
    col = np.floor(x).astype(np.int64) % in_w
    row = np.floor(np.nan_to_num(y, nan=-1.0, posinf=-1.0, neginf=-1.0)).astype(np.int64)
    out = np.empty(x.shape + (2,), dtype)
    if mercator_input:
        outside = ~((y >= 0) & (y < in_h))
        out[..., 0] = np.where(outside, missing, row)
        out[..., 1] = np.where(outside, missing, col)
    else:
        out[..., 0] = np.minimum(row, in_h - 1)
        out[..., 1] = col
    return out


def accurate_lut(width, height, in_w=None, in_h=None):
    in_w, in_h = in_w or width, in_h or height
    lat, lon = transverse_latlon(width, height)
    return lut_from_coords(*equirect_coords(lat, lon, in_w, in_h), in_w, in_h)


def legacy_lut(width, height):
    """The original script's LUT: Python round on the angles, numpy round on lat/lon, int, clamp."""
    s = np.array([round((float(c) / width * 2 * np.pi) - np.pi, 2) for c in range(width)])
    t = np.array([round(((r + 1) / height * (-35 * np.pi / 18)) + (17.5 * np.pi / 18), 2)
                  for r in range(height)])
    s, t = np.meshgrid(s, t)
    lat = np.round(-np.arcsin(np.sin(s) / np.cosh(t)), 3)
    lon = np.arctan(np.sinh(t) / np.cos(s))
    lon = np.where((s > np.pi / 2) | (s < -np.pi / 2), np.where(t >= 0, lon + np.pi, lon - np.pi), lon)
    lon = np.round(lon, 3)
    x = ((lon + np.pi) / (2 * np.pi) * width).astype(np.int64)
    y = ((lat - np.pi / 2) / (-np.pi) * height).astype(np.int64)
    out = np.empty((height, width, 2), np.uint16)
    out[..., 0] = np.clip(y, 0, height - 1)
    out[..., 1] = np.clip(x, 0, width - 1)
    return out


def rotation_vectors(center_lat, center_lon, heading):
    """The rotation's c, p x c, p, in plain floating point (no exact quarter turns)."""
    lat, lon, h = (math.radians(v) for v in (center_lat, center_lon, heading))
    c = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
    n = np.array([-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat)])
    e = np.array([-math.sin(lon), math.cos(lon), 0.0])
    p = math.cos(h) * n + math.sin(h) * e
    return c, np.cross(p, c), p


def rotated_to_geographic(lat_r, lon_r, center_lat, center_lon, heading):
    """v = cos lat' cos lon' c + cos lat' sin lon' (p x c) + sin lat' p -> (lat, lon)."""
    c, q, p = rotation_vectors(center_lat, center_lon, heading)
    v = (np.cos(lat_r) * np.cos(lon_r))[..., None] * c + (np.cos(lat_r) * np.sin(lon_r))[..., None] * q \
        + np.sin(lat_r)[..., None] * p
    return np.arcsin(np.clip(v[..., 2], -1, 1)), np.arctan2(v[..., 1], v[..., 0])


def proj_string(center_lat, center_lon, heading, output):
    """The PROJ ob_tran string of a geometry (o_lon_p solved from the centre)."""
    from pyproj import Proj

    c, q, p = rotation_vectors(center_lat, center_lon, heading)
    p_lat = math.degrees(math.asin(max(-1.0, min(1.0, p[2]))))
    p_lon = math.degrees(math.atan2(p[1], p[0]))
    o_proj = "merc" if output == "mercator" else "eqc"
    base = f"+proj=ob_tran +o_proj={o_proj} +R=1 +o_lat_p={p_lat!r} +lon_0={p_lon + 180!r}"
    x, _ = Proj(base + " +o_lon_p=0")(center_lon, center_lat)
    return base + f" +o_lon_p={-math.degrees(x)!r}"


def supersampled(image, out_w, out_h, k=8, block_rows=16):
    """The ideal rendering of the default aspect: each output pixel the mean of k x k bilinear
    float64 samples of the input (rows in blocks, to bound memory)."""
    in_h, in_w = image.shape[:2]
    src = image.astype(np.float64).reshape(in_h, in_w, -1)
    s = (np.arange(out_w * k) + 0.5) / (out_w * k) * 2 * np.pi - np.pi
    out = np.empty((out_h, out_w, src.shape[2]))
    for r0 in range(0, out_h, block_rows):
        r1 = min(out_h, r0 + block_rows)
        t = T_LEGACY - (np.arange(r0 * k, r1 * k) + 0.5) / (out_h * k) * 2 * T_LEGACY
        ss, tt = np.meshgrid(s, t)
        lat, lon = -np.arcsin(np.sin(ss) / np.cosh(tt)), np.arctan2(np.sinh(tt), np.cos(ss))
        x, y = equirect_coords(lat, lon, in_w, in_h)
        u, v = x - 0.5, np.clip(y - 0.5, 0, in_h - 1)
        c0, r0_ = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
        fu, fv = (u - c0)[..., None], (v - r0_)[..., None]
        c0, c1, r1_ = c0 % in_w, (c0 + 1) % in_w, np.minimum(r0_ + 1, in_h - 1)
        fine = (1 - fv) * ((1 - fu) * src[r0_, c0] + fu * src[r0_, c1]) \
            + fv * ((1 - fu) * src[r1_, c0] + fu * src[r1_, c1])
        out[r0:r1] = fine.reshape(r1 - r0, k, out_w, k, -1).mean(axis=(1, 3))
    return out if image.ndim == 3 else out[..., 0]


def psnr(a, b, peak=255.0):
    """Peak signal-to-noise ratio in dB of ``a`` against the reference ``b``."""
    return 10 * math.log10(peak**2 / np.mean((a.astype(np.float64) - b) ** 2))
