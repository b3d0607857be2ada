/**
 * A status line for long steps: on a terminal it redraws one line in place every half second
 * (what is running, how far along); elsewhere (CI logs, pipes) it stays silent so logs hold
 * only the result lines. `line` prints a permanent line, clearing the status first.
 */
export class Progress {
  private text = ''
  private readonly tty: boolean
  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {
    this.tty = Boolean(out.isTTY)
  }
  status(text: string): void {
    if (!this.tty) return
    this.text = text
    this.out.write(`\r\x1b[2K${text}`)
  }
  clear(): void {
    if (this.tty && this.text) this.out.write('\r\x1b[2K')
    this.text = ''
  }
  line(text: string): void {
    this.clear()
    this.out.write(text + '\n')
  }
  /** Calls `poll` every 500 ms while `work` runs and shows what it returns. */
  async during<T>(poll: () => string, work: Promise<T>): Promise<T> {
    if (!this.tty) return work
    const timer = setInterval(() => this.status(poll()), 500)
    this.status(poll())
    try {
      return await work
    } finally {
      clearInterval(timer)
      this.clear()
    }
  }
}
