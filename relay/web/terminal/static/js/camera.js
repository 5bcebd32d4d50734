// Camera scanning with the browser's BarcodeDetector, where the browser has it.
export const available = "BarcodeDetector" in window && !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);

// Read one code through the camera into <video>; null when stopped or after a minute.
export async function scanOnce(video, formats) {
  const detector = new window.BarcodeDetector(formats ? { formats } : undefined);
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  try {
    for (let tries = 0; tries < 200 && !video.hidden; tries += 1) {
      const codes = await detector.detect(video);
      if (codes.length) return codes[0].rawValue;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return null;
  } finally {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
    video.hidden = true;
  }
}

export function stop(video) {
  video.hidden = true;
}
