fn main() {
    let lang = "rust";
    println!("hello from {} without crates", lang);
}
