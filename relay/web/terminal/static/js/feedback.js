// Sound and vibration: a short high tone for a good scan, two low tones for a bad one.
let audio = null;

function context() {
  if (!audio && window.AudioContext) audio = new AudioContext();
  return audio;
}

function tone(ctx, frequency, start, length) {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = "square";
  osc.frequency.value = frequency;
  gain.gain.value = 0.15;
  osc.connect(gain).connect(ctx.destination);
  osc.start(ctx.currentTime + start);
  osc.stop(ctx.currentTime + start + length);
}

export function signal(ok) {
  const ctx = context();
  if (ctx) {
    if (ctx.state === "suspended") ctx.resume();
    if (ok) tone(ctx, 1760, 0, 0.05);
    else {
      tone(ctx, 220, 0, 0.18);
      tone(ctx, 180, 0.24, 0.18);
    }
  }
  if (!ok && navigator.vibrate) navigator.vibrate([200, 80, 200]);
}
