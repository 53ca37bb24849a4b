// Published test vectors, kept as data.
//
// HOTP: RFC 4226 Appendix D ("Test Values"), secret = ASCII "12345678901234567890",
// with the intermediate HMAC-SHA-1 values and the truncated decimals it lists.
//
// TOTP: RFC 6238 Appendix B ("Test Vectors"), 8 digits, 30-second steps, T0 = 0.
// The seeds are the ASCII strings below (the appendix's reference code uses the
// 20-, 32- and 64-byte seeds, as errata 2866 clarifies), including T = 20000000000.

const ascii = (text: string) => new TextEncoder().encode(text);

export const RFC4226_SECRET = ascii('12345678901234567890');

export const RFC4226_HOTP: readonly { counter: number; hmac: string; truncated: number; hotp: string }[] = [
  { counter: 0, hmac: 'cc93cf18508d94934c64b65d8ba7667fb7cde4b0', truncated: 1284755224, hotp: '755224' },
  { counter: 1, hmac: '75a48a19d4cbe100644e8ac1397eea747a2d33ab', truncated: 1094287082, hotp: '287082' },
  { counter: 2, hmac: '0bacb7fa082fef30782211938bc1c5e70416ff44', truncated: 137359152, hotp: '359152' },
  { counter: 3, hmac: '66c28227d03a2d5529262ff016a1e6ef76557ece', truncated: 1726969429, hotp: '969429' },
  { counter: 4, hmac: 'a904c900a64b35909874b33e61c5938a8e15ed1c', truncated: 1640338314, hotp: '338314' },
  { counter: 5, hmac: 'a37e783d7b7233c083d4f62926c7a25f238d0316', truncated: 868254676, hotp: '254676' },
  { counter: 6, hmac: 'bc9cd28561042c83f219324d3c607256c03272ae', truncated: 1918287922, hotp: '287922' },
  { counter: 7, hmac: 'a4fb960c0bc06e1eabb804e5b397cdc4b45596fa', truncated: 82162583, hotp: '162583' },
  { counter: 8, hmac: '1b3c89f65e6c9e883012052823443f048b4332db', truncated: 673399871, hotp: '399871' },
  { counter: 9, hmac: '1637409809a679dc698207310c8c7fc07290d9e5', truncated: 645520489, hotp: '520489' },
];

export const RFC6238_SECRETS = {
  'SHA-1': ascii('12345678901234567890'),
  'SHA-256': ascii('12345678901234567890123456789012'),
  'SHA-512': ascii('1234567890123456789012345678901234567890123456789012345678901234'),
} as const;

export const RFC6238_TOTP: readonly {
  time: number;
  counterHex: string;
  algorithm: keyof typeof RFC6238_SECRETS;
  totp: string;
}[] = [
  { time: 59, counterHex: '0000000000000001', algorithm: 'SHA-1', totp: '94287082' },
  { time: 59, counterHex: '0000000000000001', algorithm: 'SHA-256', totp: '46119246' },
  { time: 59, counterHex: '0000000000000001', algorithm: 'SHA-512', totp: '90693936' },
  { time: 1111111109, counterHex: '00000000023523EC', algorithm: 'SHA-1', totp: '07081804' },
  { time: 1111111109, counterHex: '00000000023523EC', algorithm: 'SHA-256', totp: '68084774' },
  { time: 1111111109, counterHex: '00000000023523EC', algorithm: 'SHA-512', totp: '25091201' },
  { time: 1111111111, counterHex: '00000000023523ED', algorithm: 'SHA-1', totp: '14050471' },
  { time: 1111111111, counterHex: '00000000023523ED', algorithm: 'SHA-256', totp: '67062674' },
  { time: 1111111111, counterHex: '00000000023523ED', algorithm: 'SHA-512', totp: '99943326' },
  { time: 1234567890, counterHex: '000000000273EF07', algorithm: 'SHA-1', totp: '89005924' },
  { time: 1234567890, counterHex: '000000000273EF07', algorithm: 'SHA-256', totp: '91819424' },
  { time: 1234567890, counterHex: '000000000273EF07', algorithm: 'SHA-512', totp: '93441116' },
  { time: 2000000000, counterHex: '0000000003F940AA', algorithm: 'SHA-1', totp: '69279037' },
  { time: 2000000000, counterHex: '0000000003F940AA', algorithm: 'SHA-256', totp: '90698825' },
  { time: 2000000000, counterHex: '0000000003F940AA', algorithm: 'SHA-512', totp: '38618901' },
  { time: 20000000000, counterHex: '0000000027BC86AA', algorithm: 'SHA-1', totp: '65353130' },
  { time: 20000000000, counterHex: '0000000027BC86AA', algorithm: 'SHA-256', totp: '77737706' },
  { time: 20000000000, counterHex: '0000000027BC86AA', algorithm: 'SHA-512', totp: '47863826' },
];
