import WebSocket from 'ws';
import { execSync } from 'node:child_process';
const ws = new WebSocket('ws://127.0.0.1:8000/api/v1/streaming/realtime/live_user');
const t0 = Date.now();
let turns = 0;
const turn = (text) => ws.send(JSON.stringify({ type: 'conversation.item.input', conversation_item_input: { type: 'input_text', text } }));
ws.on('open', () => turn('first turn'));
ws.on('message', (d) => {
  const m = JSON.parse(d.toString());
  if (m.type === 'error') console.log((Date.now()-t0)/1000, 'error', JSON.stringify(m));
  if (m.type === 'session.created') console.log('created', m.session.id);
  if (m.type === 'response.done') {
    turns++;
    console.log((Date.now()-t0)/1000, 'turn done', turns);
    if (turns === 1) { const pid = execSync('redis-cli -p 7101 info server | grep process_id').toString().split(':')[1].trim(); process.kill(Number(pid), 'SIGKILL'); console.log('killed master', pid); setTimeout(() => turn('after the kill'), 500); }
    else if (turns < 4) setTimeout(() => turn('turn ' + turns), 1000);
    else { ws.close(); }
  }
});
ws.on('close', (c, r) => { console.log('closed', c, r.toString()); process.exit(0); });
