// TOTP codes for journeys, as an authenticator app computes them (RFC 6238, SHA-1, 6 digits,
// 30 s). The server refuses a code whose time step was already used, so `freshCode` waits
// for a later step when it must.

import * as OTPAuth from 'otpauth';

const PERIOD = 30;

function totp(secretBase32) {
  return new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(secretBase32.replace(/\s+/g, '')),
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
  });
}

export function currentStep(now = Date.now()) {
  return Math.floor(now / 1000 / PERIOD);
}

/** The code for the current step, and that step. */
export function codeNow(secretBase32) {
  const now = Date.now();
  return { code: totp(secretBase32).generate({ timestamp: now }), step: currentStep(now) };
}

/**
 * A code from a step later than `usedStep` (waiting for it if needed), with at least
 * `margin` seconds left in its step so it is still current when it arrives.
 */
export async function freshCode(secretBase32, { usedStep = -1, margin = 3 } = {}) {
  for (;;) {
    const now = Date.now();
    const step = currentStep(now);
    const left = PERIOD - ((now / 1000) % PERIOD);
    if (step > usedStep && left >= margin) {
      return { code: totp(secretBase32).generate({ timestamp: now }), step };
    }
    await new Promise((r) => setTimeout(r, Math.ceil(left * 1000) + 200));
  }
}
