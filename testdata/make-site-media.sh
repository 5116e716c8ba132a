#!/bin/sh
# make-site-media.sh regenerates the binary media of the demo site in
# testdata/site/ (images under img/ and video/demo.mp4) from ffmpeg's
# built-in lavfi test sources. The committed files are the ones used by the
# demo and the tests; this script only documents how they were made.
#
# Needs: ffmpeg built with libx264, libwebp and libfreetype (Debian 12:
# apt-get install -y ffmpeg, which pulls in fonts-dejavu-core).
# Runs with one ffmpeg build give identical bytes; other ffmpeg/x264 versions may not.
#
# Usage: sh testdata/make-site-media.sh   (from anywhere)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
site="$here/site"
font=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
ff="ffmpeg -hide_banner -loglevel error -y"

mkdir -p "$site/img" "$site/video"

# PNG: one frame of the testsrc2 pattern, 640x360.
$ff -f lavfi -i "testsrc2=size=640x360:rate=1" -frames:v 1 \
	-fflags +bitexact -flags +bitexact "$site/img/testcard.png"

# JPEG: a Mandelbrot fractal, 800x450, quality 5 (1 best .. 31 worst).
$ff -f lavfi -i "mandelbrot=size=800x450:rate=1" -frames:v 1 -q:v 5 \
	-fflags +bitexact -flags +bitexact "$site/img/mandelbrot.jpg"

# WebP: SMPTE HD colour bars, 640x360, lossy quality 80.
$ff -f lavfi -i "smptehdbars=size=640x360:rate=1" -frames:v 1 \
	-c:v libwebp -quality 80 -fflags +bitexact -flags +bitexact "$site/img/colorbars.webp"

# MP4: 36 s of testsrc2 at 1280x720/30 fps with a caption, plus a 440 Hz sine
# tone; H.264 (High, yuv420p, ~1.5 Mbit/s) + AAC-LC 128 kbit/s, moov atom in
# front (+faststart) so browsers can start playing and seek at once.
# A keyframe every 2 s keeps seeking snappy; one x264 thread makes the
# encode deterministic (same bytes on every run with the same ffmpeg).
$ff -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=36" \
	-f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=36" \
	-vf "drawtext=fontfile=$font:text='Tern CDN demo':fontsize=56:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=12:x=(w-tw)/2:y=h-th-48" \
	-c:v libx264 -threads:v 1 -preset medium -profile:v high -pix_fmt yuv420p \
	-b:v 1500k -maxrate 2000k -bufsize 3000k -g 60 -keyint_min 60 -sc_threshold 0 \
	-c:a aac -b:a 128k -ac 2 \
	-movflags +faststart -map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
	"$site/video/demo.mp4"

ls -l "$site/img" "$site/video"
