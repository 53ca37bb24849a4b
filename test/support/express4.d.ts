// Express 4, installed beside Express 5 as the alias express4 (npm:express@^4), for the host tests.
declare module 'express4' {
  import express from 'express';
  export default express;
}
