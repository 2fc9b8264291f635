fn main() {
    println!("runvqgan");
}
