//! Prints the parse result for each pattern line on stdin (a manual aid for error messages).
use std::io::BufRead;

fn main() {
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        match stix::pattern::parse(&line) {
            Ok(p) => println!("ok     {p}"),
            Err(e) => println!("error  {line}\n       {e}"),
        }
    }
}
