/** The checksum of TFRecord framing: CRC-32C (Castagnoli), masked. */
import { crc32c } from '@aws-crypto/crc32c';

const MASK_DELTA = 0xa282ead8;

/**
 * TensorFlow masks the CRC (rotate right by 15 bits, add a constant) because a CRC computed
 * over data that itself embeds CRCs is weak; TensorBoard's readers expect the masked form.
 */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return (((crc >>> 15) | (crc << 17)) + MASK_DELTA) >>> 0;
}
