// The floor: a Node UDP server that answers every datagram with itself, QR and RA set (NOERROR,
// no records), with no DNS work. `node bench/echo.js PORT` on 127.0.0.1 only.
import dgram from 'node:dgram';

const socket = dgram.createSocket('udp4');
socket.on('message', (msg, rinfo) => {
  if (msg.length < 12) return;
  msg[2] |= 0x80;
  msg[3] |= 0x80;
  socket.send(msg, rinfo.port, rinfo.address);
});
socket.bind(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
